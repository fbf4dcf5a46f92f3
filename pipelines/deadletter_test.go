package pipelines

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
)

// Test-only stages of the dead-letter tests. dl-src emits its lines in order; a
// line starting with "bad" is handed to Env.DeadLetter instead. dl-proc fails
// payloads starting with "corrupt" with a stages.Malformed error, and those
// starting with "fail" with a plain error. dl-sink records what it got under
// its name and fails its first FailTimes writes.

type dlSrcConfig struct {
	Lines []string `yaml:"lines"`
}

func (*dlSrcConfig) Validate() error { return nil }

type dlSrc struct {
	cfg *dlSrcConfig
	env stages.Env
}

func (s *dlSrc) Read(ctx context.Context, emit stages.EmitFunc) error {
	for i, line := range s.cfg.Lines {
		if strings.HasPrefix(line, "bad") {
			msg := stages.NewDeadLetter([]byte(line), fmt.Sprintf("lines:%d", i+1))
			if err := stages.DeadLetterRetrying(ctx, s.env, msg, fmt.Errorf("line %d: %q does not parse", i+1, line), nil); err != nil {
				return err
			}
			continue
		}
		msg := message.NewMessage(fmt.Sprintf("m%d", i), []byte(line))
		msg.Metadata.Set("origin", "dl-src")
		if err := emit(ctx, msg); err != nil && !errors.Is(err, stages.ErrNacked) {
			return err
		}
	}
	return nil
}

type dlProcConfig struct{}

func (*dlProcConfig) Validate() error { return nil }

type dlProc struct{}

func (dlProc) Process(_ context.Context, msg *message.Message) ([]*message.Message, error) {
	switch p := string(msg.Payload); {
	case strings.HasPrefix(p, "corrupt"):
		return nil, stages.Malformed(fmt.Errorf("payload %q is corrupt", p))
	case strings.HasPrefix(p, "fail"):
		return nil, errors.New("temporary failure")
	}
	out := message.NewMessage(msg.UUID+"-out", []byte(strings.ToUpper(string(msg.Payload))))
	return []*message.Message{out}, nil
}

type dlSinkConfig struct {
	Name      string `yaml:"name"`
	FailTimes int    `yaml:"fail_times"`
}

func (*dlSinkConfig) Validate() error { return nil }

type dlSink struct {
	cfg *dlSinkConfig
	rec *dlRecord
}

type dlRecord struct {
	mu     sync.Mutex
	writes int
	msgs   []*message.Message
}

var dlRecords sync.Map // sink name → *dlRecord

func dlRecordOf(name string) *dlRecord {
	r, _ := dlRecords.LoadOrStore(name, &dlRecord{})
	return r.(*dlRecord)
}

func (r *dlRecord) payloads() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.msgs {
		out = append(out, string(m.Payload))
	}
	return out
}

func (s *dlSink) Write(_ context.Context, msgs []*message.Message) error {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.writes++
	if s.rec.writes <= s.cfg.FailTimes {
		return errors.New("sink unavailable")
	}
	s.rec.msgs = append(s.rec.msgs, msgs...)
	return nil
}

func init() {
	stages.RegisterSource(stages.Info{ID: "dl-src", Summary: "test"}, func() *dlSrcConfig { return &dlSrcConfig{} },
		func(_ context.Context, c *dlSrcConfig, env stages.Env) (stages.Source, error) {
			return &dlSrc{cfg: c, env: env}, nil
		})
	stages.RegisterProcessor(stages.Info{ID: "dl-proc", Summary: "test"}, func() *dlProcConfig { return &dlProcConfig{} },
		func(context.Context, *dlProcConfig, stages.Env) (stages.Processor, error) { return dlProc{}, nil })
	stages.RegisterSink(stages.Info{ID: "dl-picky", Summary: "test", Consumes: []string{stages.KindFrame}}, func() *dlSinkConfig { return &dlSinkConfig{} },
		func(_ context.Context, c *dlSinkConfig, _ stages.Env) (stages.Sink, error) {
			return &dlSink{cfg: c, rec: dlRecordOf(c.Name)}, nil
		})
	stages.RegisterSink(stages.Info{ID: "dl-sink", Summary: "test"}, func() *dlSinkConfig { return &dlSinkConfig{} },
		func(_ context.Context, c *dlSinkConfig, _ stages.Env) (stages.Sink, error) {
			return &dlSink{cfg: c, rec: dlRecordOf(c.Name)}, nil
		})
}

func TestDeadLetters(t *testing.T) {
	tests := []struct {
		name       string
		deadLetter string // the dead_letter: entry, "" for none
		lines      []string
		wantOut    []string
		wantDead   []string // payloads, in order
		wantCounts map[string]uint64
		wantAcked  uint64
	}{
		{
			name:       "source and processor dead letters",
			deadLetter: "{type: dl-sink, name: %s}",
			lines:      []string{"a", "bad-1", "corrupt-2", "b", "bad-3"},
			wantOut:    []string{"A", "B"},
			wantDead:   []string{"bad-1", "corrupt-2", "bad-3"},
			wantCounts: map[string]uint64{"sources[0] (dl-src)": 2, "stages[0] (dl-proc)": 1},
			wantAcked:  3, // a, corrupt-2 (dead-lettered), b
		},
		{
			name:       "dead-letter sink recovers within the retries",
			deadLetter: "{type: dl-sink, name: %s, fail_times: 1}",
			lines:      []string{"corrupt-0", "a"},
			wantOut:    []string{"A"},
			wantDead:   []string{"corrupt-0"},
			wantCounts: map[string]uint64{"stages[0] (dl-proc)": 1},
			wantAcked:  2,
		},
		{
			name:       "without a dead_letter sink inputs are logged and counted",
			lines:      []string{"bad-0", "corrupt-1", "a"},
			wantOut:    []string{"A"},
			wantCounts: map[string]uint64{"sources[0] (dl-src)": 1, "stages[0] (dl-proc)": 1},
			wantAcked:  2,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, dead := fmt.Sprintf("out-%d", i), fmt.Sprintf("dead-%d", i)
			yml := fmt.Sprintf("name: dl\nsources:\n  - type: dl-src\n    lines: [%s]\nstages:\n  - type: dl-proc\nsinks:\n  - {type: dl-sink, name: %s}\n",
				strings.Join(tt.lines, ", "), out)
			if tt.deadLetter != "" {
				yml += "dead_letter: " + fmt.Sprintf(tt.deadLetter, dead) + "\n"
			}
			p, err := Load("dl.yaml", []byte(yml))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			stats, err := runPipeline(t, ctx, p, WithRetry(2, time.Millisecond, 5*time.Millisecond),
				WithFlushInterval(time.Hour), WithDrainTimeout(5*time.Second))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := dlRecordOf(out).payloads(); strings.Join(got, ",") != strings.Join(tt.wantOut, ",") {
				t.Errorf("sink got %q, want %q", got, tt.wantOut)
			}
			if got := dlRecordOf(dead).payloads(); strings.Join(got, ",") != strings.Join(tt.wantDead, ",") {
				t.Errorf("dead-letter sink got %q, want %q", got, tt.wantDead)
			}
			counts := map[string]uint64{}
			for _, d := range stats.DeadLetters {
				counts[d.Path] = d.Count
			}
			if fmt.Sprint(counts) != fmt.Sprint(tt.wantCounts) {
				t.Errorf("Stats.DeadLetters = %v, want %v", counts, tt.wantCounts)
			}
			if stats.Acked != tt.wantAcked || stats.Dropped != 0 {
				t.Errorf("acked %d dropped %d, want acked %d dropped 0", stats.Acked, stats.Dropped, tt.wantAcked)
			}
		})
	}
}

// A dead letter carries the input's payload and metadata, the reason, the step
// and where the input came from.
func TestDeadLetterMetadata(t *testing.T) {
	yml := "name: dlmeta\nsources:\n  - type: dl-src\n    lines: [bad-line, corrupt-frame]\nstages:\n  - type: dl-proc\n" +
		"sinks:\n  - {type: dl-sink, name: meta-out}\ndead_letter: {type: dl-sink, name: meta-dead}\n"
	p, err := Load("dlmeta.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	if p.DeadLetter == nil || p.DeadLetter.Path != "dead_letter (dl-sink)" {
		t.Fatalf("DeadLetter step = %+v", p.DeadLetter)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := runPipeline(t, ctx, p, fastOpts()...); err != nil {
		t.Fatal(err)
	}
	rec := dlRecordOf("meta-dead")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.msgs) != 2 {
		t.Fatalf("%d dead letters, want 2", len(rec.msgs))
	}
	want := []map[string]string{
		{stages.MetaError: `line 1: "bad-line" does not parse`, stages.MetaErrorStep: "sources[0] (dl-src)",
			stages.MetaSource: "lines:1", stages.MetaPipeline: "dlmeta", stages.MetaNode: "node-1"},
		{stages.MetaError: `payload "corrupt-frame" is corrupt`, stages.MetaErrorStep: "stages[0] (dl-proc)",
			"origin": "dl-src", stages.MetaPipeline: "dlmeta", stages.MetaNode: "node-1"},
	}
	for i, m := range rec.msgs {
		for k, v := range want[i] {
			if got := m.Metadata.Get(k); got != v {
				t.Errorf("dead letter %d: %s = %q, want %q", i, k, got, v)
			}
		}
	}
	if rec.msgs[1].UUID != "m1" {
		t.Errorf("dead letter of m1 has UUID %q; want the input's", rec.msgs[1].UUID)
	}
}

// When the dead-letter sink keeps failing, a malformed input is nacked like any
// failure (never acknowledged unsafely), and a plain error is never
// dead-lettered.
func TestDeadLetterSinkFailing(t *testing.T) {
	yml := "name: dlfail\nsources:\n  - type: dl-src\n    lines: [corrupt-0, fail-1, a]\nstages:\n  - type: dl-proc\n" +
		"sinks:\n  - {type: dl-sink, name: fail-out}\ndead_letter: {type: dl-sink, name: fail-dead, fail_times: 1000}\n"
	p, err := Load("dlfail.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stats, err := runPipeline(t, ctx, p, fastOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	if got := dlRecordOf("fail-dead").payloads(); len(got) != 0 {
		t.Errorf("dead-letter sink took %q", got)
	}
	if len(stats.DeadLetters) != 0 {
		t.Errorf("DeadLetters = %v, want none", stats.DeadLetters)
	}
	if got := dlRecordOf("fail-out").payloads(); strings.Join(got, ",") != "A" {
		t.Errorf("sink got %q, want A", got)
	}
	if stats.Acked != 1 || stats.Nacked == 0 {
		t.Errorf("acked %d nacked %d; want 1 acked and the two failures nacked", stats.Acked, stats.Nacked)
	}
}

func TestLoadDeadLetter(t *testing.T) {
	base := "name: x\nsources:\n  - type: dl-src\nsinks:\n  - type: dl-sink\n"
	tests := []struct {
		name    string
		entry   string
		wantErr string
	}{
		{name: "a sink", entry: "{type: dl-sink, name: d}"},
		{name: "unknown type", entry: "{type: nope}", wantErr: `dead_letter[0]: sink "nope" unknown`},
		{name: "a source is no sink", entry: "{type: dl-src}", wantErr: `"dl-src" is a source, not a sink`},
		{name: "unknown field", entry: "{type: dl-sink, nmae: d}", wantErr: `unknown field "nmae"`},
		{name: "not a mapping", entry: "[dl-sink]", wantErr: `want a mapping with a "type" key`},
		{name: "a sink that takes only some kinds", entry: "{type: dl-picky}", wantErr: `dead_letter (dl-picky): sink "dl-picky" takes only frame payloads`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Load("x.yaml", []byte(base+"dead_letter: "+tt.entry+"\n"))
			if tt.wantErr == "" {
				if err != nil || p.DeadLetter == nil {
					t.Fatalf("Load = %v, dead letter %v", err, p)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "x.yaml:6") {
				t.Fatalf("Load error = %v, want x.yaml:6 and %q", err, tt.wantErr)
			}
		})
	}
}
