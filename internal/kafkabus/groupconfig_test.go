package kafkabus

import (
	"strings"
	"testing"
	"time"
)

// TestSubscriberGroupTimes: NewSubscriber rejects group timings kafka-go would
// panic on or that let the group drop a live member, naming the field.
func TestSubscriberGroupTimes(t *testing.T) {
	tests := []struct {
		name    string
		cfg     SubscriberConfig
		wantErr string // "" = valid
	}{
		{name: "defaults", cfg: SubscriberConfig{}},
		{name: "fast failover", cfg: SubscriberConfig{HeartbeatInterval: 500 * time.Millisecond, SessionTimeout: 6 * time.Second, RebalanceTimeout: 2 * time.Second}},
		{name: "heartbeat equals session", cfg: SubscriberConfig{HeartbeatInterval: 6 * time.Second, SessionTimeout: 6 * time.Second}, wantErr: "HeartbeatInterval"},
		{name: "heartbeat above default session", cfg: SubscriberConfig{HeartbeatInterval: 20 * time.Second, RebalanceTimeout: time.Minute}, wantErr: "SessionTimeout 10s"},
		{name: "heartbeat not below rebalance", cfg: SubscriberConfig{HeartbeatInterval: 2 * time.Second, RebalanceTimeout: 2 * time.Second}, wantErr: "RebalanceTimeout"},
		{name: "session beyond int32 milliseconds", cfg: SubscriberConfig{SessionTimeout: 30 * 24 * time.Hour}, wantErr: "SessionTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Brokers = []string{"127.0.0.1:9092"}
			sub, err := NewSubscriber(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("NewSubscriber: %v", err)
				}
				_ = sub.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewSubscriber: error %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}
