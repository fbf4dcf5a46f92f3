package cloud_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/cloud"
	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
	"github.com/edgeflow/edgeflow/stages/reading"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testBlock is n readings of node/stream starting at t0 + seq seconds.
func testBlock(node, stream string, seq uint64, n int) *frame.Block {
	b := &frame.Block{Node: node, Stream: stream, Seq: seq}
	for i := 0; i < n; i++ {
		b.Timestamps = append(b.Timestamps, t0.Add(time.Duration(int(seq)*n+i)*time.Second).UnixNano())
		b.Values = append(b.Values, 20+float64(i)*0.25)
	}
	return b
}

// later moves every reading of b by d.
func later(b *frame.Block, d time.Duration) *frame.Block {
	for i := range b.Timestamps {
		b.Timestamps[i] += int64(d)
	}
	return b
}

func encodeFrame(tb testing.TB, b *frame.Block) []byte {
	tb.Helper()
	enc, err := frame.NewEncoder(frame.Options{Codec: frame.CodecZstd})
	if err != nil {
		tb.Fatal(err)
	}
	out, err := enc.Encode(nil, b)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func frameMessage(tb testing.TB, b *frame.Block) *message.Message {
	m := message.NewMessage(watermill.NewUUID(), encodeFrame(tb, b))
	m.Metadata.Set(stages.MetaKind, stages.KindFrame)
	m.Metadata.Set(stages.MetaNode, b.Node)
	m.Metadata.Set(stages.MetaStream, b.Stream)
	m.Metadata.Set(stages.MetaSeq, strconv.FormatUint(b.Seq, 10))
	return m
}

func readingsMessage(node string, rs ...reading.Reading) *message.Message {
	var payload []byte
	for _, r := range rs {
		payload = append(reading.AppendJSON(payload, r), '\n')
	}
	m := message.NewMessage(watermill.NewUUID(), payload)
	m.Metadata.Set(stages.MetaKind, stages.KindReadings)
	m.Metadata.Set(stages.MetaNode, node)
	return m
}

func newTestConsumer(t *testing.T, sub message.Subscriber) *cloud.Consumer {
	t.Helper()
	c, err := cloud.NewConsumer(cloud.ConsumerConfig{Topic: "t", Subscriber: sub, RetryDelay: time.Millisecond, DedupeWindow: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// delivery is what a handler saw, in order.
type delivery struct {
	kind, node, stream string
	seq                uint64
	n                  int
}

func TestConsumer(t *testing.T) {
	corrupt := frameMessage(t, testBlock("node-1", "temp", 9, 4))
	corrupt.Payload[len(corrupt.Payload)-1] ^= 0xff
	truncated := frameMessage(t, testBlock("node-1", "temp", 9, 4))
	truncated.Payload = truncated.Payload[:len(truncated.Payload)/2]
	unknown := message.NewMessage(watermill.NewUUID(), []byte("x"))
	unknown.Metadata.Set(stages.MetaKind, "pictures")
	badReadings := message.NewMessage(watermill.NewUUID(), []byte("{\"stream\":\"a\",\"ts\":\"2026-01-01T00:00:00Z\",\"value\":1}\nnot json\n"))
	badReadings.Metadata.Set(stages.MetaKind, stages.KindReadings)
	twoFrames := frameMessage(t, testBlock("node-2", "hum", 1, 2))
	twoFrames.Payload = append(twoFrames.Payload, encodeFrame(t, testBlock("node-2", "hum", 2, 3))...)

	tests := []struct {
		name      string
		msgs      []*message.Message
		failFirst int // the handler fails this many times on the first batch
		want      []delivery
		check     func(t *testing.T, s cloud.Stats)
	}{
		{
			name: "frames in order",
			msgs: []*message.Message{frameMessage(t, testBlock("node-1", "temp", 1, 5)), frameMessage(t, testBlock("node-1", "temp", 2, 5))},
			want: []delivery{{"frame", "node-1", "temp", 1, 5}, {"frame", "node-1", "temp", 2, 5}},
			check: func(t *testing.T, s cloud.Stats) {
				if s.Frames != 2 || s.Readings != 10 || s.RawBytes != 160 || s.WireBytes == 0 || s.Nodes["node-1"].Readings != 10 {
					t.Errorf("stats %+v", s)
				}
			},
		},
		{
			name: "redelivered and reordered frames are dropped once seen",
			msgs: []*message.Message{
				frameMessage(t, testBlock("node-1", "temp", 1, 2)), frameMessage(t, testBlock("node-1", "temp", 3, 2)),
				frameMessage(t, testBlock("node-1", "temp", 1, 2)), frameMessage(t, testBlock("node-1", "temp", 2, 2)),
				frameMessage(t, testBlock("node-1", "temp", 3, 2)), frameMessage(t, testBlock("node-2", "temp", 1, 2)),
			},
			want: []delivery{{"frame", "node-1", "temp", 1, 2}, {"frame", "node-1", "temp", 3, 2}, {"frame", "node-1", "temp", 2, 2}, {"frame", "node-2", "temp", 1, 2}},
			check: func(t *testing.T, s cloud.Stats) {
				if s.Duplicates != 2 || s.Nodes["node-1"].Duplicates != 2 || s.Messages != 6 {
					t.Errorf("stats %+v", s)
				}
			},
		},
		{
			name: "corrupt and unknown messages are skipped",
			msgs: []*message.Message{corrupt, truncated, unknown, badReadings, frameMessage(t, testBlock("node-1", "temp", 9, 4))},
			want: []delivery{{"frame", "node-1", "temp", 9, 4}},
			check: func(t *testing.T, s cloud.Stats) {
				if s.DecodeErrors != 4 || s.Frames != 1 {
					t.Errorf("stats %+v", s)
				}
			},
		},
		{
			name:      "a failed handler gets the batch again, once",
			msgs:      []*message.Message{frameMessage(t, testBlock("node-1", "temp", 1, 3)), frameMessage(t, testBlock("node-1", "temp", 2, 3))},
			failFirst: 2,
			want:      []delivery{{"frame", "node-1", "temp", 1, 3}, {"frame", "node-1", "temp", 2, 3}},
			check: func(t *testing.T, s cloud.Stats) {
				if s.HandlerErrors != 2 || s.Frames != 2 || s.Duplicates != 0 || s.Messages != 4 {
					t.Errorf("stats %+v", s)
				}
			},
		},
		{
			name: "a restarted node numbers from 1 again",
			msgs: []*message.Message{
				frameMessage(t, testBlock("node-1", "temp", 1, 2)), frameMessage(t, testBlock("node-1", "temp", 2, 2)),
				frameMessage(t, later(testBlock("node-1", "temp", 1, 2), time.Hour)), frameMessage(t, testBlock("node-1", "temp", 2, 2)),
				frameMessage(t, later(testBlock("node-1", "temp", 2, 2), time.Hour)),
			},
			want: []delivery{{"frame", "node-1", "temp", 1, 2}, {"frame", "node-1", "temp", 2, 2}, {"frame", "node-1", "temp", 1, 2}, {"frame", "node-1", "temp", 2, 2}},
			check: func(t *testing.T, s cloud.Stats) {
				if s.Restarts != 2 || s.Duplicates != 1 {
					t.Errorf("stats %+v", s)
				}
			},
		},
		{
			name: "several frames in one message",
			msgs: []*message.Message{twoFrames},
			want: []delivery{{"frame", "node-2", "hum", 1, 2}, {"frame", "node-2", "hum", 2, 3}},
		},
		{
			name: "readings messages",
			msgs: []*message.Message{
				readingsMessage("node-3", reading.Reading{Stream: "a", Time: t0, Value: 1}, reading.Reading{Stream: "a", Time: t0.Add(time.Second), Value: 2}),
				readingsMessage("node-3", reading.Reading{Stream: "a", Time: t0, Value: 1}, reading.Reading{Stream: "b", Time: t0, Value: 2}),
			},
			want: []delivery{{"readings", "node-3", "a", 0, 2}, {"readings", "node-3", "", 0, 2}},
			check: func(t *testing.T, s cloud.Stats) {
				if s.ReadingMessages != 2 || s.Readings != 4 || s.Frames != 0 {
					t.Errorf("stats %+v", s)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := newMemorySubscriber(tt.msgs...)
			c := newTestConsumer(t, sub)
			var got []delivery
			fails := tt.failFirst
			err := runUntilDone(c, sub, func(ctx context.Context, b cloud.Batch) error {
				if fails > 0 {
					fails--
					return errors.New("database is down")
				}
				got = append(got, delivery{b.Kind, b.Node, b.Stream, b.Seq, len(b.Readings)})
				for _, r := range b.Readings {
					if r.Node != b.Node || (b.Stream != "" && r.Stream != b.Stream) {
						t.Errorf("reading %+v in batch of %s/%s", r, b.Node, b.Stream)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("delivered %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("delivery %d: %v, want %v", i, got[i], tt.want[i])
				}
			}
			if tt.check != nil {
				tt.check(t, c.Stats())
			}
		})
	}
}

func TestConsumerFrameValues(t *testing.T) {
	blk := testBlock("node-1", "temp", 4, 50)
	blk.Values[3] = -0.0
	sub := newMemorySubscriber(frameMessage(t, blk))
	c := newTestConsumer(t, sub)
	var got []reading.Reading
	if err := runUntilDone(c, sub, func(ctx context.Context, b cloud.Batch) error {
		if b.Header.Codec != frame.CodecZstd || b.Header.Count != 50 || b.Header.Seq != 4 {
			t.Errorf("header %+v", b.Header)
		}
		got = append(got, b.Readings...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(blk.Values) {
		t.Fatalf("got %d readings, want %d", len(got), len(blk.Values))
	}
	for i, r := range got {
		if r.Time.UnixNano() != blk.Timestamps[i] || r.Value != blk.Values[i] || r.Time.Location() != time.UTC {
			t.Errorf("reading %d: %v %v, want %v %v", i, r.Time, r.Value, time.Unix(0, blk.Timestamps[i]), blk.Values[i])
		}
	}
}

func TestConsumerStop(t *testing.T) {
	sub := newMemorySubscriber(frameMessage(t, testBlock("n", "s", 1, 1)), frameMessage(t, testBlock("n", "s", 2, 1)))
	c := newTestConsumer(t, sub)
	calls := 0
	err := c.Run(context.Background(), func(ctx context.Context, b cloud.Batch) error {
		calls++
		return cloud.ErrStop
	})
	if err != nil || calls != 1 {
		t.Fatalf("Run = %v after %d calls, want nil after 1", err, calls)
	}
	if s := c.Stats(); s.Frames != 1 {
		t.Errorf("frames %d, want 1", s.Frames)
	}
}

func TestNewConsumerConfigErrors(t *testing.T) {
	tests := []struct {
		cfg  cloud.ConsumerConfig
		want string
	}{
		{cloud.ConsumerConfig{Brokers: []string{"b:9092"}, Group: "g"}, "Topic"},
		{cloud.ConsumerConfig{Brokers: []string{"b:9092"}, Topic: "t"}, "Group"},
		{cloud.ConsumerConfig{Topic: "t", Group: "g"}, "Brokers"},
		{cloud.ConsumerConfig{Brokers: []string{"b:9092"}, Topic: "t", Group: "g", Start: "middle"}, "Start"},
	}
	for _, tt := range tests {
		_, err := cloud.NewConsumer(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewConsumer(%+v) = %v, want an error naming %s", tt.cfg, err, tt.want)
		}
	}
}
