package file

import (
	"context"
	"fmt"
	"time"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
)

// deadLetter hands a line that does not parse to the pipeline's dead-letter
// route, with "PATH:LINE" as its source, and waits until the route took it:
// the file is not read further before.
func (s *Source) deadLetter(ctx context.Context, le *reading.LineError) error {
	msg := stages.NewDeadLetter(le.Text, fmt.Sprintf("%s:%d", s.cfg.Path, le.Line))
	reason := fmt.Errorf("%s:%d: %w", s.cfg.Path, le.Line, le.Err)
	return stages.DeadLetterRetrying(ctx, s.env, msg, reason, func(err error, wait time.Duration) {
		s.log.Warn("file source: dead letter not written; retrying", "path", s.cfg.Path, "line", le.Line, "err", err, "wait", wait)
	})
}
