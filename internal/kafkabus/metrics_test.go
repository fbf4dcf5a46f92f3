package kafkabus

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/edgeflow/edgeflow/internal/testenv"
)

func TestPublishMetricsCountFailedCalls(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	p, err := NewPublisher(PublisherConfig{Brokers: []string{"127.0.0.1:1"}, MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// An invalid topic fails before any connection is made.
	if err := p.Publish("no spaces allowed", message.NewMessage("1", []byte("x"))); err == nil {
		t.Fatal("Publish to an invalid topic: want an error")
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var calls uint64
	var errs int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				if m.Name == "edgeflow.kafka.publish.duration" {
					for _, dp := range d.DataPoints {
						if v, _ := dp.Attributes.Value("topic"); v.AsString() == "no spaces allowed" {
							calls += dp.Count
						}
					}
				}
			case metricdata.Sum[int64]:
				if m.Name == "edgeflow.kafka.publish.errors" {
					for _, dp := range d.DataPoints {
						errs += dp.Value
					}
				}
			}
		}
	}
	if calls != 1 || errs != 1 {
		t.Errorf("publish calls %d, errors %d; want 1 and 1", calls, errs)
	}
}

func TestCheckBrokers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := CheckBrokers(ctx, []string{closed}); err == nil {
		t.Errorf("CheckBrokers(%s) with nothing listening: want an error", closed)
	}
	if err := CheckBrokers(ctx, nil); err == nil {
		t.Error("CheckBrokers(no brokers): want an error")
	}
	brokers := testenv.RequireKafka(t)
	if err := CheckBrokers(ctx, brokers); err != nil {
		t.Errorf("CheckBrokers(%v): %v", brokers, err)
	}
}

func TestPublishMetricsDoNotAllocate(t *testing.T) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	pm, err := newPublishMetrics(mp)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	failed := errors.New("broker gone")
	pm.observe(ctx, "edgeflow.frames", time.Now(), failed) // the first one builds the topic's options
	if n := testing.AllocsPerRun(1000, func() {
		pm.observe(ctx, "edgeflow.frames", time.Now(), nil)
		pm.observe(ctx, "edgeflow.frames", time.Now(), failed)
	}); n != 0 {
		t.Errorf("%v allocations per observed publish, want 0", n)
	}
}
