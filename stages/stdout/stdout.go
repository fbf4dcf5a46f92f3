package stdout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
	"github.com/edgeflow/edgeflow/stages/reading"
)

func init() {
	stages.RegisterSink(stages.Info{
		ID:      "stdout",
		Summary: "Prints readings as JSON lines and frames as one-line JSON summaries (or decoded).",
		Description: `Writes every message to standard output (or standard error): messages of kind readings
as JSON lines, one reading per line; messages of kind frame as one JSON line summarising the
frame header, e.g.

    {"frame":{"node":"n1","stream":"temp","seq":3,"codec":"zstd","lossy":false,"first_ts":"2026-01-02T15:04:05Z","count":60,"bytes":97}}

or, with decode: true, as the readings the frame holds (checking its checksum on the way).
Messages of kind inference (the detect stage's results) are printed as their JSON line.
A malformed message fails the write, naming the message.`,
		Consumes: []string{stages.KindReadings, stages.KindFrame, stages.KindInference},
		Examples: []stages.Example{
			{Title: "Print what a pipeline produces", YAML: `type: stdout`},
			{Title: "Print the readings inside encoded frames, on standard error", YAML: `type: stdout
decode: true
output: stderr`},
		},
	}, defaultConfig, build)
}

// Config configures the stdout sink.
type Config struct {
	Decode bool   `yaml:"decode" doc:"Print the readings inside frames instead of a summary of each frame."`
	Output string `yaml:"output" doc:"Where to print." enum:"stdout|stderr"`
}

func defaultConfig() *Config { return &Config{Output: "stdout"} }

// Validate checks the config and names the bad field.
func (c *Config) Validate() error {
	if !slices.Contains([]string{"stdout", "stderr"}, c.Output) {
		return stages.FieldErrorf("output", "output %q unknown (want stdout|stderr)", c.Output)
	}
	return nil
}

// Sink prints messages.
type Sink struct {
	decode bool
	mu     sync.Mutex
	w      io.Writer
	dec    *frame.Decoder
	block  frame.Block
	rs     []reading.Reading
	buf    []byte
}

func build(_ context.Context, cfg *Config, _ stages.Env) (stages.Sink, error) {
	w := io.Writer(os.Stdout)
	if cfg.Output == "stderr" {
		w = os.Stderr
	}
	return New(w, cfg.Decode), nil
}

// New returns a sink printing to w.
func New(w io.Writer, decode bool) *Sink {
	return &Sink{w: w, decode: decode, dec: frame.NewDecoder()}
}

// frameSummary is the JSON line printed for a frame.
type frameSummary struct {
	Frame struct {
		Node    string `json:"node"`
		Stream  string `json:"stream"`
		Seq     uint64 `json:"seq"`
		Codec   string `json:"codec"`
		Lossy   bool   `json:"lossy"`
		FirstTS string `json:"first_ts"`
		Count   int    `json:"count"`
		Bytes   int    `json:"bytes"`
	} `json:"frame"`
}

// Write prints msgs; all of a batch is formatted before anything is printed.
func (s *Sink) Write(ctx context.Context, msgs []*message.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := s.buf[:0]
	for _, msg := range msgs {
		var err error
		if buf, err = s.format(buf, msg); err != nil {
			return fmt.Errorf("stdout: message %s: %w", msg.UUID, err)
		}
	}
	s.buf = buf
	if _, err := s.w.Write(buf); err != nil {
		return fmt.Errorf("stdout: %w", err)
	}
	return nil
}

func (s *Sink) format(buf []byte, msg *message.Message) ([]byte, error) {
	var err error
	switch kind := msg.Metadata.Get(stages.MetaKind); kind {
	case stages.KindReadings:
		if s.rs, err = reading.DecodePayload(msg.Payload, s.rs[:0]); err != nil {
			return buf, err
		}
		return reading.AppendJSONLines(buf, s.rs), nil
	case stages.KindFrame:
		if s.decode {
			if _, err := s.dec.Decode(msg.Payload, &s.block); err != nil {
				return buf, err
			}
			s.rs = s.rs[:0]
			for i, ts := range s.block.Timestamps {
				s.rs = append(s.rs, reading.Reading{Node: s.block.Node, Stream: s.block.Stream,
					Time: time.Unix(0, ts).UTC(), Value: s.block.Values[i]})
			}
			return reading.AppendJSONLines(buf, s.rs), nil
		}
		h, err := frame.ReadHeader(msg.Payload)
		if err != nil {
			return buf, err
		}
		var sum frameSummary
		sum.Frame.Node, sum.Frame.Stream, sum.Frame.Seq = h.Node, h.Stream, h.Seq
		sum.Frame.Codec, sum.Frame.Lossy, sum.Frame.Count = h.Codec.String(), h.Lossy, h.Count
		sum.Frame.FirstTS = time.Unix(0, h.FirstTimestamp).UTC().Format(time.RFC3339Nano)
		sum.Frame.Bytes = len(msg.Payload)
		b, err := json.Marshal(sum)
		if err != nil {
			return buf, err
		}
		return append(append(buf, b...), '\n'), nil
	case stages.KindInference:
		line := bytes.TrimRight(msg.Payload, "\n")
		if !json.Valid(line) || bytes.ContainsRune(line, '\n') {
			return buf, errors.New("inference payload is not one JSON line")
		}
		return append(append(buf, line...), '\n'), nil
	default:
		return buf, errors.New("payload kind " + fmt.Sprintf("%q", kind) + " unknown (want readings, frame or inference)")
	}
}

var _ stages.Sink = (*Sink)(nil)
