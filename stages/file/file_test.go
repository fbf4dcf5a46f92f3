package file

import (
	"bytes"
	"context"
	"fmt"
	"github.com/edgeflow/edgeflow/internal/testenv"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"gopkg.in/yaml.v3"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
	"github.com/edgeflow/edgeflow/stages/reading"
	"github.com/edgeflow/edgeflow/stages/stagetest"
)

func TestConformanceSource(t *testing.T) {
	path := writeFile(t, "room.csv", "timestamp,value\n1767366245,1\n")
	stagetest.Run(t, stages.KindSource, "file", stagetest.Features{
		ValidConfig:    "path: " + path,
		RequiredFields: []string{"path"},
	})
}

func TestConformanceSink(t *testing.T) {
	stagetest.Run(t, stages.KindSink, "file", stagetest.Features{
		ValidConfig:    "path: " + filepath.Join(t.TempDir(), "out", "readings.jsonl"),
		RequiredFields: []string{"path"},
	})
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// logBuffer captures log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newFileSource(t *testing.T, cfgYAML string, logs *logBuffer) *Source {
	t.Helper()
	cfg := defaultSourceConfig()
	if err := yaml.Unmarshal([]byte(cfgYAML), cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	env := stages.Env{Node: stages.Node{ID: "edge-1"}}
	if logs != nil {
		env.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	src, err := buildSource(context.Background(), cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	return src.(*Source)
}

// drain reads src to the end and returns the payload readings per message.
func drain(t *testing.T, src *Source) [][]reading.Reading {
	t.Helper()
	var out [][]reading.Reading
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := src.Read(ctx, func(ctx context.Context, msg *message.Message) error {
		rs, err := reading.DecodePayload(msg.Payload, nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rs)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func flatten(msgs [][]reading.Reading) []reading.Reading {
	var all []reading.Reading
	for _, m := range msgs {
		all = append(all, m...)
	}
	return all
}

func TestSourceCSVBadLinesSkipped(t *testing.T) {
	path := writeFile(t, "boiler.csv", "timestamp,value\n1767366245,1\nnope,2\n1767366246,3\n1767366247,x\n1767366248,5\n")
	var logs logBuffer
	src := newFileSource(t, "path: "+path+"\nbatch: 2\n", &logs)
	msgs := drain(t, src)
	all := flatten(msgs)
	if len(msgs) != 2 || len(all) != 3 {
		t.Fatalf("messages %v", msgs)
	}
	for i, want := range []float64{1, 3, 5} {
		if all[i].Value != want || all[i].Stream != "boiler" || all[i].Node != "edge-1" {
			t.Errorf("reading %d: %+v", i, all[i])
		}
	}
	if src.BadLines() != 2 || src.Sent() != 3 {
		t.Errorf("bad lines %d, sent %d", src.BadLines(), src.Sent())
	}
	for _, want := range []string{path + ":3: ", path + ":5: "} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestSourceJSONLines(t *testing.T) {
	path := writeFile(t, "env.ndjson", `{"ts":1767366245,"value":1}
{"node":"mote-2","stream":"env","ts":1767366246,"values":{"humidity":40,"temperature":20}}
not json
`)
	var logs logBuffer
	src := newFileSource(t, "path: "+path, &logs)
	all := flatten(drain(t, src))
	if len(all) != 3 || all[0].Stream != "env" || all[0].Node != "edge-1" || all[1].Stream != "env.humidity" || all[2].Node != "mote-2" {
		t.Fatalf("readings %+v", all)
	}
	if src.BadLines() != 1 || !strings.Contains(logs.String(), path+":3: ") {
		t.Fatalf("bad lines %d, log %s", src.BadLines(), logs.String())
	}
}

func TestSourceAdvancesOnlyAfterAck(t *testing.T) {
	path := writeFile(t, "t.csv", "timestamp,value\n1,1\n2,2\n3,3\n")
	src := newFileSource(t, "path: "+path+"\nbatch: 1\n", nil)
	var seen []string
	err := src.Read(context.Background(), func(ctx context.Context, msg *message.Message) error {
		seen = append(seen, string(msg.Payload))
		if len(seen) == 2 {
			return fmt.Errorf("disk full: %w", stages.ErrNacked)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 4 || seen[1] != seen[2] || !strings.Contains(seen[3], `"value":3`) {
		t.Fatalf("emitted %q", seen)
	}
}

func TestSourceLoopShiftsTime(t *testing.T) {
	path := writeFile(t, "t.csv", "timestamp,value\n100,1\n110,2\n120,3\n")
	src := newFileSource(t, "path: "+path+"\nloop: true\nbatch: 3\n", nil)
	ctx, cancel := context.WithCancel(context.Background())
	var all []reading.Reading
	err := src.Read(ctx, func(ctx context.Context, msg *message.Message) error {
		all, _ = reading.DecodePayload(msg.Payload, all)
		if len(all) >= 9 {
			cancel()
		}
		return nil
	})
	if err != context.Canceled {
		t.Fatalf("Read returned %v", err)
	}
	for i, r := range all {
		if want := time.Unix(int64(100+10*i), 0); !r.Time.Equal(want) {
			t.Fatalf("reading %d at %v, want %v", i, r.Time, want)
		}
	}
}

func TestSourcePacing(t *testing.T) {
	var rows strings.Builder
	rows.WriteString("timestamp,value\n")
	for i := range 21 {
		fmt.Fprintf(&rows, "%d,%d\n", 1767366245+i*60, i)
	}
	path := writeFile(t, "paced.csv", rows.String())
	for _, tt := range []struct{ cfg string }{
		{"rate: 100"},                   // 20 gaps of 10 ms
		{"speedup: 6000"},               // 20 gaps of 60 s / 6000 = 10 ms
		{"rate: 100000\nspeedup: 6000"}, // the slower wins
	} {
		t.Run(tt.cfg, func(t *testing.T) {
			src := newFileSource(t, "path: "+path+"\n"+tt.cfg, nil)
			begin := time.Now()
			msgs := drain(t, src)
			took := time.Since(begin)
			if len(flatten(msgs)) != 21 || took < 180*time.Millisecond || took > 3*time.Second {
				t.Fatalf("%d readings in %d messages took %v; want about 200ms", len(flatten(msgs)), len(msgs), took)
			}
		})
	}
}

func TestSourceSharedData(t *testing.T) {
	dir := testenv.SharedFile(t, "")
	src := newFileSource(t, "path: "+filepath.Join(dir, "data/telosb/multihop.csv")+`
batch: 500
csv:
  seq_column: reading
  interval: 5s
  node_column: mote_id
  value_columns: [humidity, temperature]
  label_columns: [label]
`, nil)
	all := flatten(drain(t, src))
	if len(all) != 2*18760 || src.BadLines() != 0 {
		t.Fatalf("%d readings, %d bad lines", len(all), src.BadLines())
	}
	nodes := map[string]int{}
	for _, r := range all {
		nodes[r.Node]++
	}
	if len(nodes) != 4 {
		t.Fatalf("nodes %v", nodes)
	}
}

func TestSourceValidate(t *testing.T) {
	for _, tt := range []struct{ yaml, field string }{
		{"path: ''", "path"},
		{"path: a.txt", "format"},
		{"path: a.csv\nformat: xml", "format"},
		{"path: a.csv\nrate: -1", "rate"},
		{"path: a.csv\nspeedup: -1", "speedup"},
		{"path: a.csv\nbatch: 0", "batch"},
		{"path: a.csv\ncsv: {start: later}", "csv.start"},
		{"path: a.csv\ncsv: {comma: ';;'}", "csv.comma"},
	} {
		cfg := defaultSourceConfig()
		if err := yaml.Unmarshal([]byte(tt.yaml), cfg); err != nil {
			t.Fatal(err)
		}
		if got := stages.FieldOf(cfg.Validate()); got != tt.field {
			t.Errorf("%q: error names %q, want %q", tt.yaml, got, tt.field)
		}
	}
}

func newSink(t *testing.T, cfgYAML string) *Sink {
	t.Helper()
	cfg := defaultSinkConfig()
	if err := yaml.Unmarshal([]byte(cfgYAML), cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := buildSink(context.Background(), cfg, stages.Env{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.(*Sink).Close() })
	return s.(*Sink)
}

func frameMessage(t *testing.T, stream string, vals []float64) *message.Message {
	t.Helper()
	enc, err := frame.NewEncoder(frame.Options{Codec: frame.CodecZstd})
	if err != nil {
		t.Fatal(err)
	}
	b := &frame.Block{Node: "n", Stream: stream, Seq: 1}
	for i, v := range vals {
		b.Timestamps = append(b.Timestamps, int64(i)*int64(time.Second))
		b.Values = append(b.Values, v)
	}
	payload, err := enc.Encode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	msg := message.NewMessage("f-"+stream, payload)
	msg.Metadata.Set(stages.MetaKind, stages.KindFrame)
	return msg
}

func TestSinkReadingsAndFrames(t *testing.T) {
	for _, fsync := range []string{"write", "interval", "never"} {
		t.Run(fsync, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a", "b", "out.bin")
			s := newSink(t, "path: "+path+"\nfsync: "+fsync)
			rs := []reading.Reading{{Stream: "s", Time: time.Unix(1, 0), Value: 1.5}, {Stream: "s", Time: time.Unix(2, 0), Value: 2.5}}
			f1, f2 := frameMessage(t, "x", []float64{1, 2, 3}), frameMessage(t, "y", []float64{4, 5})
			if err := s.Write(context.Background(), []*message.Message{reading.NewMessage(rs), f1}); err != nil {
				t.Fatal(err)
			}
			if err := s.Write(context.Background(), []*message.Message{f2}); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal("second close:", err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := reading.AppendJSONLines(nil, rs)
			if !bytes.HasPrefix(data, lines) {
				t.Fatalf("file starts %q", data[:min(len(data), len(lines))])
			}
			rest := data[len(lines):]
			for _, want := range []*message.Message{f1, f2} {
				n, err := frame.FrameLen(rest)
				if err != nil || !bytes.Equal(rest[:n], want.Payload) {
					t.Fatalf("frame: %v", err)
				}
				rest = rest[n:]
			}
			if len(rest) != 0 {
				t.Fatalf("%d bytes left over", len(rest))
			}
		})
	}
}

func TestSinkMalformedWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	s := newSink(t, "path: "+path)
	good := reading.NewMessage([]reading.Reading{{Stream: "s", Time: time.Unix(1, 0), Value: 1}})
	badReadings := message.NewMessage("bad-1", []byte("{\"stream\":\"s\"}\n"))
	badReadings.Metadata.Set(stages.MetaKind, stages.KindReadings)
	badFrame := message.NewMessage("bad-2", []byte("EFRM garbage"))
	badFrame.Metadata.Set(stages.MetaKind, stages.KindFrame)
	noKind := message.NewMessage("bad-3", []byte("x"))
	for _, bad := range []*message.Message{badReadings, badFrame, noKind} {
		err := s.Write(context.Background(), []*message.Message{good, bad})
		if err == nil || !strings.Contains(err.Error(), bad.UUID) {
			t.Fatalf("error %v does not name message %s", err, bad.UUID)
		}
	}
	if data, _ := os.ReadFile(path); len(data) != 0 {
		t.Fatalf("file holds %q", data)
	}
}
