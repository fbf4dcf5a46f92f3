package kafkatest

import (
	"context"
	"github.com/edgeflow/edgeflow/internal/testenv"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/segmentio/kafka-go"
)

// DefaultBrokers is used when EDGEFLOW_KAFKA_BROKERS is unset.
const DefaultBrokers = "127.0.0.1:9092"

// Brokers returns the broker addresses after checking that one answers a
// metadata request; otherwise it skips t, or fails it under CI=true.
func Brokers(t testing.TB) []string {
	t.Helper()
	env := os.Getenv("EDGEFLOW_KAFKA_BROKERS")
	if env == "" {
		env = DefaultBrokers
	}
	var brokers []string
	for _, b := range strings.Split(env, ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var lastErr error
	for _, b := range brokers {
		conn, err := kafka.DialContext(ctx, "tcp", b)
		if err != nil {
			lastErr = err
			continue
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Brokers()
		conn.Close()
		if err == nil {
			return brokers
		}
		lastErr = err
	}
	msg := "no Kafka broker answers at " + env + " (EDGEFLOW_KAFKA_BROKERS): " + errString(lastErr) +
		"; start one with `bash internal/tools/kafka.sh up`"
	testenv.Unavailable(t, msg)
	return nil
}

func errString(err error) string {
	if err == nil {
		return "no addresses"
	}
	return err.Error()
}

// Topic returns a fresh topic name for one test, so tests never see each
// other's records.
func Topic(t testing.TB) string {
	t.Helper()
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, t.Name())
	if len(name) > 150 {
		name = name[:150]
	}
	return "test." + name + "." + watermill.NewShortUUID()
}
