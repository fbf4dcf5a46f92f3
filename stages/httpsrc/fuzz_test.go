package httpsrc

import (
	"testing"

	"github.com/edgeflow/edgeflow/stages/reading"
)

// FuzzParseBody feeds arbitrary request bodies, as JSON and as NDJSON, to the
// parser behind POST /readings: it must never panic, and a body it accepts
// holds only readings with a stream.
func FuzzParseBody(f *testing.F) {
	for _, seed := range []string{
		`{"stream":"t","ts":"2026-01-02T03:04:05Z","value":21.5}`,
		`[{"stream":"t","ts":1767322800,"value":"NaN"},{"stream":"h","ts":"2026-01-02T03:04:05Z","value":-0}]`,
		"{\"stream\":\"t\",\"ts\":\"2026-01-02T03:04:05Z\",\"value\":1}\n{\"stream\":\"t\",\"ts\":\"2026-01-02T03:04:06Z\",\"value\":2}\n",
		`{"stream":"env","ts":"2026-01-02T03:04:05Z","values":{"humidity":43.8,"temperature":30.21}}`,
		`{"stream":"t","ts":"not a time","value":1}`,
		`[`, ``, "\n\n", `{"value":1e999}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		rs, err := parseBody(body, ndjson, reading.JSONOptions{Node: "n"})
		if err != nil {
			return
		}
		for _, r := range rs {
			if r.Stream == "" {
				t.Fatalf("accepted a reading without a stream from %q", body)
			}
		}
	})
}
