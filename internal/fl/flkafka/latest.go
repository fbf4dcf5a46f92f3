package flkafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/segmentio/kafka-go"
)

// LatestModel returns the newest record of the model name on the models
// topic (the highest version, then round), or nil when the topic or the
// model does not exist yet. It reads every partition from its first to its
// last offset, bounded by ctx.
func LatestModel(ctx context.Context, brokers []string, topic, name string) (*GlobalModel, error) {
	if len(brokers) == 0 {
		return nil, errors.New("latest model: no brokers")
	}
	// A metadata request of the Client API creates no topic, whatever the
	// broker's auto.create.topics.enable says.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr}).Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("latest model: metadata of %s: %w", topic, err)
	}
	var parts []kafka.Partition
	for _, t := range resp.Topics {
		if t.Name == topic && t.Error == nil {
			parts = t.Partitions
		}
	}
	var best *GlobalModel
	for _, p := range parts {
		g, err := latestInPartition(ctx, p, topic, name)
		if err != nil {
			return nil, err
		}
		if g != nil && (best == nil || g.Version > best.Version || (g.Version == best.Version && g.Round > best.Round)) {
			best = g
		}
	}
	return best, nil
}

func latestInPartition(ctx context.Context, p kafka.Partition, topic, name string) (*GlobalModel, error) {
	leader := net.JoinHostPort(p.Leader.Host, strconv.Itoa(p.Leader.Port))
	conn, err := kafka.DialLeader(ctx, "tcp", leader, topic, p.ID)
	if err != nil {
		return nil, fmt.Errorf("latest model: %s[%d]: %w", topic, p.ID, err)
	}
	first, last, err := conn.ReadOffsets()
	conn.Close()
	if err != nil {
		return nil, fmt.Errorf("latest model: offsets of %s[%d]: %w", topic, p.ID, err)
	}
	if last <= first {
		return nil, nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{leader}, Topic: topic, Partition: p.ID,
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 500 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(first); err != nil {
		return nil, fmt.Errorf("latest model: %s[%d]: %w", topic, p.ID, err)
	}
	var best *GlobalModel
	for {
		rec, err := r.FetchMessage(ctx)
		if err != nil {
			return nil, fmt.Errorf("latest model: reading %s[%d] up to offset %d: %w", topic, p.ID, last, err)
		}
		if string(rec.Key) == name {
			msg := message.NewMessage("", rec.Value)
			for _, h := range rec.Headers {
				msg.Metadata.Set(h.Key, string(h.Value))
			}
			if g, err := ParseGlobalModel(msg); err == nil && g.Name == name &&
				(best == nil || g.Version > best.Version || (g.Version == best.Version && g.Round >= best.Round)) {
				best = g
			}
		}
		if rec.Offset+1 >= last {
			return best, nil
		}
	}
}
