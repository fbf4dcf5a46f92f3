package encode

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
	"github.com/edgeflow/edgeflow/stages/reading"
)

func init() {
	stages.RegisterProcessor(stages.Info{
		ID:      "decode",
		Summary: "turn frames back into readings",
		Description: "Decodes each frame message (as written by the `encode` stage) into a readings message " +
			"(JSON lines) with the frame's node and stream. A payload may hold several concatenated frames. " +
			"A corrupt frame is an error, so the message is Nacked.",
		Consumes: []string{stages.KindFrame},
		Produces: []string{stages.KindReadings},
		Examples: []stages.Example{
			{Title: "Frames from Kafka back to readings", YAML: "decode: {}\n"},
		},
	}, DefaultDecodeConfig, func(ctx context.Context, cfg *DecodeConfig, env stages.Env) (stages.Processor, error) {
		return NewDecoder(cfg, env)
	})
}

// Decoder is the decode processor. It is safe for concurrent use.
type Decoder struct {
	cfg  DecodeConfig
	env  stages.Env
	pool sync.Pool // of *decodeScratch
}

type decodeScratch struct {
	dec   *frame.Decoder
	block frame.Block
	rs    []reading.Reading
}

// NewDecoder builds a decode processor from a validated config.
func NewDecoder(cfg *DecodeConfig, env stages.Env) (*Decoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Decoder{cfg: *cfg, env: env}
	d.pool.New = func() any { return &decodeScratch{dec: frame.NewDecoder()} }
	return d, nil
}

// Process decodes the frames of a KindFrame message into readings messages. A
// corrupt frame goes to the pipeline's dead-letter route on its own and the
// frames around it are decoded; when no frame boundary follows it, the rest of
// the payload goes as one dead letter. Outside a pipeline (no route) a corrupt
// frame fails the message with a stages.Malformed error.
func (d *Decoder) Process(ctx context.Context, msg *message.Message) ([]*message.Message, error) {
	if kind := msg.Metadata.Get(stages.MetaKind); kind != stages.KindFrame {
		return nil, fmt.Errorf("decode: message %s has kind %q, want %q", msg.UUID, kind, stages.KindFrame)
	}
	s := d.pool.Get().(*decodeScratch)
	defer d.pool.Put(s)
	var out []*message.Message
	src := msg.Payload
	for offset := 0; len(src) > 0; offset = len(msg.Payload) - len(src) {
		f, rest, err := frame.Next(src)
		if err != nil {
			// No frame boundary to go on from: the rest is one dead letter.
			if err := d.deadLetter(ctx, msg, src, offset, err); err != nil {
				return nil, err
			}
			break
		}
		h, err := s.dec.Decode(f, &s.block)
		if err != nil {
			if err := d.deadLetter(ctx, msg, f, offset, err); err != nil {
				return nil, err
			}
			src = rest
			continue
		}
		src = rest
		s.rs = BlockReadings(&s.block, s.rs[:0])
		per := d.cfg.MaxReadings
		if per <= 0 {
			per = max(len(s.rs), 1)
		}
		for start := 0; start < len(s.rs); start += per {
			chunk := s.rs[start:min(start+per, len(s.rs))]
			m := message.NewMessage(watermill.NewUUID(), reading.AppendJSONLines(make([]byte, 0, 64*len(chunk)), chunk))
			m.Metadata.Set(stages.MetaKind, stages.KindReadings)
			m.Metadata.Set(stages.MetaNode, h.Node)
			m.Metadata.Set(stages.MetaStream, h.Stream)
			m.Metadata.Set(stages.MetaSeq, strconv.FormatUint(h.Seq, 10))
			if p := msg.Metadata.Get(stages.MetaPipeline); p != "" {
				m.Metadata.Set(stages.MetaPipeline, p)
			} else if d.env.Pipeline != "" {
				m.Metadata.Set(stages.MetaPipeline, d.env.Pipeline)
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// BlockReadings appends the readings of a decoded block to dst, in UTC.
func BlockReadings(b *frame.Block, dst []reading.Reading) []reading.Reading {
	for i, ts := range b.Timestamps {
		dst = append(dst, reading.Reading{Node: b.Node, Stream: b.Stream, Time: time.Unix(0, ts).UTC(), Value: b.Values[i]})
	}
	return dst
}

var _ stages.Processor = (*Decoder)(nil)
