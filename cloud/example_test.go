package cloud_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/cloud"
	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
)

// A Deduplicator remembers which frames of each stream were handled, by
// sequence number and the time of their first reading.
func ExampleDeduplicator() {
	d := cloud.NewDeduplicator(64)
	k := cloud.StreamKey{Node: "node-1", Stream: "temperature"}
	frames := []struct {
		seq   uint64
		first int64 // Unix nanoseconds of the frame's first reading
	}{{1, 100}, {2, 200}, {4, 400}, {2, 200}, {3, 300}, {4, 400}, {5, 500}, {1, 600}}
	for _, f := range frames {
		v := d.Check(k, f.seq, f.first)
		if v.Deliver() {
			d.Record(k, f.seq, f.first) // only once the frame was handled
		}
		fmt.Println(f.seq, v)
	}
	// Output:
	// 1 new
	// 2 new
	// 4 new
	// 2 duplicate
	// 3 new
	// 4 duplicate
	// 5 new
	// 1 restarted
}

// A Consumer hands each frame to the handler once, as typed readings. Here it
// reads from an in-memory subscriber; with Brokers, Topic and Group set instead
// it reads a Kafka topic with a consumer group.
func ExampleConsumer() {
	enc, _ := frame.NewEncoder(frame.Options{Codec: frame.CodecZstd})
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var msgs []*message.Message
	for _, seq := range []uint64{1, 2, 1} { // frame 1 arrives twice
		b := &frame.Block{Node: "node-1", Stream: "temperature", Seq: seq,
			Timestamps: []int64{start.Add(time.Duration(seq) * time.Minute).UnixNano()}, Values: []float64{20 + float64(seq)/2}}
		payload, _ := enc.Encode(nil, b)
		m := message.NewMessage(watermill.NewUUID(), payload)
		m.Metadata.Set(stages.MetaKind, stages.KindFrame)
		msgs = append(msgs, m)
	}
	sub := newMemorySubscriber(msgs...)

	c, err := cloud.NewConsumer(cloud.ConsumerConfig{Topic: "edgeflow.frames", Subscriber: sub})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	_ = runUntilDone(c, sub, func(ctx context.Context, b cloud.Batch) error {
		for _, r := range b.Readings {
			fmt.Printf("%s/%s seq %d: %s %v\n", b.Node, b.Stream, b.Seq, r.Time.Format(time.TimeOnly), r.Value)
		}
		return nil // nil: handled, the offset may be committed
	})
	s := c.Stats()
	fmt.Printf("frames %d, readings %d, raw bytes %d, duplicates %d\n", s.Frames, s.Readings, s.RawBytes, s.Duplicates)
	// Output:
	// node-1/temperature seq 1: 00:01:00 20.5
	// node-1/temperature seq 2: 00:02:00 21
	// frames 2, readings 2, raw bytes 32, duplicates 1
}

// Reading a Kafka topic: every consumer of the group shares the partitions.
func ExampleNewConsumer() {
	c, err := cloud.NewConsumer(cloud.ConsumerConfig{
		Brokers: []string{"127.0.0.1:9092"},
		Topic:   "edgeflow.frames",
		Group:   "dashboards",
		Start:   cloud.StartEarliest,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = c.Run(ctx, func(ctx context.Context, b cloud.Batch) error {
		for _, r := range b.Readings {
			fmt.Println(r.Node, r.Stream, r.Time, r.Value)
		}
		return nil
	})
	fmt.Println(err, c.Stats().Readings)
}
