package cloud

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// lagReader asks the brokers how far a consumer group is behind on a topic.
type lagReader struct {
	client *kafka.Client
	topic  string
	group  string
	start  Start
}

func newLagReader(brokers []string, topic, group string, start Start) *lagReader {
	return &lagReader{client: &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second},
		topic: topic, group: group, start: start}
}

// lag is the number of messages after the group's committed offsets, summed over
// the topic's partitions. A partition without a committed offset counts from its
// first offset when the group starts at the earliest message, else as 0.
func (l *lagReader) lag(ctx context.Context) (int64, error) {
	meta, err := l.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{l.topic}})
	if err != nil {
		return 0, fmt.Errorf("metadata of topic %q: %w", l.topic, err)
	}
	var parts []int
	for _, t := range meta.Topics {
		if t.Name != l.topic {
			continue
		}
		if t.Error != nil {
			return 0, fmt.Errorf("metadata of topic %q: %w", l.topic, t.Error)
		}
		for _, p := range t.Partitions {
			parts = append(parts, p.ID)
		}
	}
	if len(parts) == 0 {
		return 0, fmt.Errorf("topic %q has no partitions", l.topic)
	}
	reqs := make([]kafka.OffsetRequest, 0, 2*len(parts))
	for _, p := range parts {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	offs, err := l.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{l.topic: reqs}})
	if err != nil {
		return 0, fmt.Errorf("list offsets of topic %q: %w", l.topic, err)
	}
	committed, err := l.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: l.group, Topics: map[string][]int{l.topic: parts}})
	if err != nil {
		return 0, fmt.Errorf("committed offsets of group %q: %w", l.group, err)
	}
	if committed.Error != nil {
		return 0, fmt.Errorf("committed offsets of group %q: %w", l.group, committed.Error)
	}
	done := map[int]int64{}
	for _, p := range committed.Topics[l.topic] {
		if p.Error == nil {
			done[p.Partition] = p.CommittedOffset
		}
	}
	var total int64
	for _, p := range offs.Topics[l.topic] {
		if p.Error != nil {
			return 0, fmt.Errorf("offsets of %s/%d: %w", l.topic, p.Partition, p.Error)
		}
		c, ok := done[p.Partition]
		switch {
		case ok && c >= 0:
			total += max(p.LastOffset-c, 0)
		case l.start == StartEarliest:
			total += max(p.LastOffset-p.FirstOffset, 0)
		}
	}
	return total, nil
}

// commitFinal commits next offsets (partition → offset of the next message to
// read) for the group where the broker has a lower one. It is used after the
// subscription left the group, so the commit is a plain one (generation -1):
// brokers accept it only while the group has no members; otherwise the members
// commit for themselves and the error is returned for logging.
func (l *lagReader) commitFinal(ctx context.Context, next map[int]int64) error {
	if len(next) == 0 {
		return nil
	}
	parts := make([]int, 0, len(next))
	for p := range next {
		parts = append(parts, p)
	}
	have, err := l.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: l.group, Topics: map[string][]int{l.topic: parts}})
	if err != nil {
		return fmt.Errorf("committed offsets of group %q: %w", l.group, err)
	}
	committed := map[int]int64{}
	for _, p := range have.Topics[l.topic] {
		if p.Error == nil {
			committed[p.Partition] = p.CommittedOffset
		}
	}
	var commits []kafka.OffsetCommit
	for p, off := range next {
		if c, ok := committed[p]; !ok || c < off {
			commits = append(commits, kafka.OffsetCommit{Partition: p, Offset: off})
		}
	}
	if len(commits) == 0 {
		return nil
	}
	resp, err := l.client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: l.group, GenerationID: -1,
		Topics: map[string][]kafka.OffsetCommit{l.topic: commits}})
	if err != nil {
		return fmt.Errorf("commit offsets of group %q: %w", l.group, err)
	}
	for _, p := range resp.Topics[l.topic] {
		if p.Error != nil {
			return fmt.Errorf("commit offset of %s/%d for group %q: %w", l.topic, p.Partition, l.group, p.Error)
		}
	}
	return nil
}
