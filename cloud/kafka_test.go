package cloud_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/edgeflow/edgeflow/cloud"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/kafkabus/kafkatest"
)

// TestConsumerKafka runs the consumer against the real broker.
func TestConsumerKafka(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	testConsumerOverKafka(t, brokers, kafkatest.Topic(t))
}

// TestConsumerKfake runs the same scenario against an in-process Kafka-protocol
// broker, so it runs everywhere.
func TestConsumerKfake(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "frames"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	testConsumerOverKafka(t, cluster.ListenAddrs(), "frames")
}

// testConsumerOverKafka publishes frames of two nodes (one frame twice, one
// corrupt), consumes them with a handler that fails once, and checks every frame
// arrives exactly once, offsets are committed, and a restarted consumer of the
// same group sees nothing again.
func testConsumerOverKafka(t *testing.T, brokers []string, topic string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers, Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()

	corrupt := frameMessage(t, testBlock("node-1", "temp", 100, 3))
	corrupt.Payload[len(corrupt.Payload)/2] ^= 0x55
	var msgs []*message.Message
	want := map[cloud.StreamKey]int{}
	for seq := uint64(1); seq <= 10; seq++ {
		for _, node := range []string{"node-1", "node-2"} {
			msgs = append(msgs, frameMessage(t, testBlock(node, "temp", seq, 10)))
			want[cloud.StreamKey{Node: node, Stream: "temp"}] += 10
		}
		if seq == 5 {
			msgs = append(msgs, frameMessage(t, testBlock("node-1", "temp", 3, 10)), corrupt)
		}
	}
	if err := pub.PublishContext(ctx, topic, msgs...); err != nil {
		t.Fatal(err)
	}

	group := "cloud-test-" + time.Now().Format("150405.000000")
	var logs syncBuffer
	newConsumer := func() *cloud.Consumer {
		c, err := cloud.NewConsumer(cloud.ConsumerConfig{Brokers: brokers, Topic: topic, Group: group,
			Start: cloud.StartEarliest, RetryDelay: 10 * time.Millisecond, LagInterval: 100 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := newConsumer()
	var mu sync.Mutex
	got := map[cloud.StreamKey]int{}
	total, failed := 0, false
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.Run(runCtx, func(ctx context.Context, b cloud.Batch) error {
			mu.Lock()
			defer mu.Unlock()
			if b.Seq == 7 && !failed {
				failed = true
				return errors.New("store unavailable")
			}
			got[b.Key()] += len(b.Readings)
			if total += len(b.Readings); total == 200 {
				stop()
			}
			return nil
		})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run: %v", err)
		}
	case <-ctx.Done():
		t.Fatalf("timed out with %d readings of 200: %+v", total, c.Stats())
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%v: %d readings, want %d", k, got[k], n)
		}
	}
	s := c.Stats()
	if s.Frames != 20 || s.Duplicates != 1 || s.DecodeErrors != 1 || s.HandlerErrors != 1 {
		t.Errorf("stats %+v", s)
	}
	if l := logs.String(); !regexp.MustCompile(`msg="skipping undecodable message" topic=` + regexp.QuoteMeta(topic) + ` partition=\d+ offset=\d+ kind=frame err=".*corrupt`).MatchString(l) {
		t.Errorf("the corrupt frame was not logged with its position:\n%s", l)
	}
	lag, err := c.Lag(ctx)
	if err != nil || lag != 0 {
		t.Errorf("Lag = %d, %v; want 0", lag, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// The same group again: every offset was committed, so nothing is delivered.
	c2 := newConsumer()
	defer c2.Close()
	short, cancel2 := context.WithTimeout(ctx, 3*time.Second)
	defer cancel2()
	err = c2.Run(short, func(ctx context.Context, b cloud.Batch) error {
		t.Errorf("redelivered %s/%s seq %d at %v", b.Node, b.Stream, b.Seq, b.Position)
		return nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second Run: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// BenchmarkConsumerKfake measures consuming frames of 500 readings through the
// in-process broker: decode, dedupe and one offset commit per message.
func BenchmarkConsumerKfake(b *testing.B) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "bench"))
	if err != nil {
		b.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	ctx := context.Background()
	var msgs []*message.Message
	for i := 0; i < b.N; i++ {
		msgs = append(msgs, frameMessage(b, testBlock("node-1", "s"+strconv.Itoa(i%6), uint64(i/6+1), 500)))
	}
	for len(msgs) > 0 {
		n := min(len(msgs), 500)
		if err := pub.PublishContext(ctx, "bench", msgs[:n]...); err != nil {
			b.Fatal(err)
		}
		msgs = msgs[n:]
	}
	c, err := cloud.NewConsumer(cloud.ConsumerConfig{Brokers: brokers, Topic: "bench", Group: "bench", Start: cloud.StartEarliest})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ResetTimer()
	got := 0
	err = c.Run(ctx, func(ctx context.Context, batch cloud.Batch) error {
		if got++; got == b.N {
			return cloud.ErrStop
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)*500/b.Elapsed().Seconds(), "readings/s")
}
