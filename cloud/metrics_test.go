package cloud_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kfake"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/edgeflow/edgeflow/cloud"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/kafkabus/kafkatest"
)

// collectInt64 returns the value of every int64 sum or gauge, by name.
func collectInt64(t *testing.T, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					out[m.Name] += dp.Value
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					out[m.Name] += dp.Value
				}
			}
		}
	}
	return out
}

func TestConsumerMetricsAndReady(t *testing.T) {
	sub := newMemorySubscriber(
		frameMessage(t, testBlock("node-1", "temp", 1, 10)),
		frameMessage(t, testBlock("node-1", "temp", 1, 10)), // duplicate
		frameMessage(t, testBlock("node-1", "temp", 2, 5)),
	)
	c := newTestConsumer(t, sub)
	reader := sdkmetric.NewManualReader()
	reg, err := c.RegisterMetrics(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()
	ctx := context.Background()
	if err := c.Ready(ctx); err == nil {
		t.Error("Ready before Run: want an error")
	}
	var readyInHandler error = errors.New("handler not called")
	err = runUntilDone(c, sub, func(ctx context.Context, b cloud.Batch) error {
		readyInHandler = c.Ready(ctx)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if readyInHandler != nil {
		t.Errorf("Ready while running: %v", readyInHandler)
	}
	if err := c.Ready(ctx); err == nil {
		t.Error("Ready after Run returned: want an error")
	}
	got := collectInt64(t, reader)
	want := map[string]int64{"edgeflow.consumer.messages": 3, "edgeflow.consumer.frames": 2,
		"edgeflow.consumer.readings": 15, "edgeflow.consumer.duplicates": 1, "edgeflow.consumer.decode_errors": 0}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %d, want %d", name, got[name], v)
		}
	}
	if _, ok := got["edgeflow.consumer.lag.messages"]; ok {
		t.Error("lag reported although never known")
	}
}

// TestConsumerReadyKafka checks that Ready passes once the consumer joined its
// group, against the in-process broker and the real one.
func TestConsumerReadyKafka(t *testing.T) {
	t.Run("kfake", func(t *testing.T) {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "frames"))
		if err != nil {
			t.Fatal(err)
		}
		defer cluster.Close()
		testReadyOverKafka(t, cluster.ListenAddrs(), "frames")
	})
	t.Run("broker", func(t *testing.T) {
		brokers := kafkatest.Brokers(t)
		topic := kafkatest.Topic(t)
		pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers})
		if err != nil {
			t.Fatal(err)
		}
		defer pub.Close()
		if err := pub.Publish(topic, message.NewMessage("1", []byte("not a frame"))); err != nil {
			t.Fatal(err)
		}
		testReadyOverKafka(t, brokers, topic)
	})
}

func testReadyOverKafka(t *testing.T, brokers []string, topic string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := cloud.NewConsumer(cloud.ConsumerConfig{Brokers: brokers, Topic: topic,
		Group: "ready-" + time.Now().Format("150405.000000"), Start: cloud.StartEarliest})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ready(ctx); err == nil {
		t.Error("Ready before Run: want an error")
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx, func(context.Context, cloud.Batch) error { return nil }) }()
	var last error
	for {
		qctx, qcancel := context.WithTimeout(ctx, 2*time.Second)
		last = c.Ready(qctx)
		qcancel()
		if last == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("not ready within 60s: %v", last)
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v", err)
	}
	if err := c.Ready(ctx); err == nil {
		t.Error("Ready after Run returned: want an error")
	}
}
