package httpsrc

import (
	"context"
	"net/http"

	"github.com/edgeflow/edgeflow/stages"
)

// badBody answers a request whose body holds no usable readings. The body
// goes to the pipeline's dead-letter route first, with "http REMOTE PATH" as
// its source: 400 once the route took it, 503 with Retry-After when it did not
// (the client should send it again; nothing is lost).
func (h *handler) badBody(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte, reason error) {
	msg := stages.NewDeadLetter(body, "http "+r.RemoteAddr+" "+r.URL.Path)
	if ct := r.Header.Get("Content-Type"); ct != "" {
		msg.Metadata.Set("content-type", ct)
	}
	if err := h.src.env.DeadLetter(ctx, msg, reason); err != nil {
		h.src.log.Warn("http source: dead letter not written", "remote", r.RemoteAddr, "err", err)
		w.Header().Set("Retry-After", "1")
		reply(w, http.StatusServiceUnavailable, "%v; and the dead-letter sink failed: retry later", reason)
		return
	}
	reply(w, http.StatusBadRequest, "%v; nothing accepted", reason)
}
