package kafka_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/edge/spool"
	"github.com/edgeflow/edgeflow/internal/kafkabus/kafkatest"
	"github.com/edgeflow/edgeflow/stages"
)

// TestSinkProbeLink: the sink's probe answers against the broker, and fails
// within its deadline against a listener that accepts connections but never
// answers (a cut link).
func TestSinkProbeLink(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	tests := []struct {
		name    string
		brokers []string
		wantErr bool
	}{
		{name: "broker answers", brokers: brokers},
		{name: "link cut", brokers: []string{silent.Addr().String()}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := build[stages.Sink](t, stages.KindSink, func(c stages.Config) {
				sinkCfg(c).Topic = kafkatest.Topic(t)
				sinkCfg(c).Brokers = tt.brokers
			}, stages.Env{Node: stages.Node{ID: "n1"}, Pipeline: "probe"})
			prober, ok := sink.(spool.LinkProber)
			if !ok {
				t.Fatal("the kafka sink is not a spool.LinkProber")
			}
			ctx, cancel := context.WithTimeout(context.Background(), spool.ProbeInterval)
			defer cancel()
			start := time.Now()
			err := prober.ProbeLink(ctx)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ProbeLink: %v, want error %v", err, tt.wantErr)
			}
			if took := time.Since(start); took > spool.ProbeInterval+200*time.Millisecond {
				t.Errorf("ProbeLink took %s, beyond its deadline of %s", took, spool.ProbeInterval)
			}
		})
	}
}
