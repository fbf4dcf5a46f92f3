package pipelines

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/edgeflow/edgeflow/edge/spool"
)

func spoolTestConfig() *spool.Config {
	c := spool.DefaultConfig()
	c.RetryMaxWait = spool.RetryFirstWait
	return c
}

// TestSpooledSink: the source's messages are acknowledged once they are in the
// spool; the forwarder writes them to the failing sink in order once it takes
// them; the spool drains before the sink is closed.
func TestSpooledSink(t *testing.T) {
	log := &eventLog{}
	src := &rtSrcConfig{Name: "s", Messages: []string{"a", "b", "c", "d"}, Log: log}
	sink := &rtSinkConfig{Name: "s0", Log: log, FailTimes: 3}
	p := testPipeline("spooled", []*rtSrcConfig{src}, nil, []*rtSinkConfig{sink})
	p.Sinks[0].Spool = spoolTestConfig()
	env := testEnv(t)
	env.Node.DataDir = t.TempDir()
	r, err := p.Build(context.Background(), env, fastOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.Acked != 4 || st.Nacked != 0 {
		t.Errorf("acked %d, nacked %d; want 4 acked despite the failing sink", st.Acked, st.Nacked)
	}
	var got []string
	for _, e := range log.list() {
		if strings.HasPrefix(e, "write s0 ") || strings.HasPrefix(e, "close sink s0") {
			got = append(got, strings.Join(strings.Fields(e)[:3], " "))
		}
	}
	want := []string{"write s0 a", "write s0 b", "write s0 c", "write s0 d", "close sink s0"}
	if !slices.Equal(got, want) {
		t.Errorf("sink events %q, want %q", got, want)
	}
	file := filepath.Join(env.Node.DataDir, "spool", "node-1", "spooled", "sinks-0-rt-sink.db")
	if _, err := os.Stat(file); err != nil {
		t.Errorf("spool file: %v", err)
	}
}

func TestSpoolNeedsADataDir(t *testing.T) {
	tests := []struct {
		name     string
		implicit bool
		wantErr  string
	}{
		{"spool: block without a data directory fails", false, "no data directory"},
		{"a default spool is left out without a data directory", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPipeline("nodir", []*rtSrcConfig{{Name: "s"}}, nil, []*rtSinkConfig{{Name: "s0"}})
			p.Sinks[0].Spool, p.Sinks[0].spoolImplicit = spoolTestConfig(), tt.implicit
			r, err := p.Build(context.Background(), testEnv(t), fastOpts()...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := r.sinks[0].sink.(interface{ Spool() *spool.Spool }); ok {
					t.Error("spooled without a data directory")
				}
				r.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "sinks[0]") {
				t.Fatalf("Build = %v, want an error of sinks[0] with %q", err, tt.wantErr)
			}
		})
	}
}

func TestKafkaSinksAreSpooledByDefault(t *testing.T) {
	tests := []struct {
		yaml         string
		wantSpool    bool
		wantImplicit bool
	}{
		{"", true, true},
		{"    spool: false\n", false, false},
		{"    spool: {max_age: 1h}\n", true, false},
	}
	for _, tt := range tests {
		p, err := Load("k.yaml", []byte("sources:\n  - type: generate\nsinks:\n  - type: kafka\n    topic: t\n"+tt.yaml))
		if err != nil {
			if strings.Contains(err.Error(), "unknown") {
				t.Skip("kafka or generate not compiled into this test binary")
			}
			t.Fatal(err)
		}
		s := p.Sinks[0]
		if (s.Spool != nil) != tt.wantSpool || s.spoolImplicit != tt.wantImplicit {
			t.Errorf("%q: spool %v implicit %t, want spool %t implicit %t", tt.yaml, s.Spool, s.spoolImplicit, tt.wantSpool, tt.wantImplicit)
		}
	}
	_ = time.Second
}

// TestSpoolKeepsTheTrace: the write span of a spooled sink, started by the
// forwarder, is still a child of the message's span in the chain.
func TestSpoolKeepsTheTrace(t *testing.T) {
	tp, rec := recordingProvider(t, 1)
	p := testPipeline("traced", []*rtSrcConfig{{Name: "s", Messages: []string{"a", "b"}}},
		[]*rtProcConfig{{Mode: "pass"}}, []*rtSinkConfig{{Name: "out"}})
	p.Sinks[0].Spool = spoolTestConfig()
	env := testEnv(t)
	env.Node.DataDir = t.TempDir()
	r, err := p.Build(context.Background(), env, fastOpts(WithTracing(tp))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ingest := spansNamed(rec, "ingest rt-src")
	write := spansNamed(rec, "write rt-sink")
	if len(ingest) != 2 || len(write) != 2 {
		t.Fatalf("spans: %d ingest, %d write; want 2, 2", len(ingest), len(write))
	}
	ids := map[trace.SpanID]bool{}
	for _, s := range ingest {
		ids[s.SpanContext().SpanID()] = true
	}
	for _, s := range write {
		if !ids[s.Parent().SpanID()] {
			t.Errorf("write span's parent %v is not an ingest span", s.Parent())
		}
	}
}
