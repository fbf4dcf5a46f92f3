package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// recordVersion is the first byte of every stored record.
const recordVersion = 1

// A record is one message as stored: version, append time (Unix nanoseconds,
// 8 bytes big-endian), then uvarint-length-prefixed UUID, the number of
// metadata pairs and each key and value, and the payload to the end.
func encodeRecord(msg *message.Message, at time.Time) []byte {
	n := 1 + 8 + binary.MaxVarintLen64*2 + len(msg.UUID) + len(msg.Payload)
	for k, v := range msg.Metadata {
		n += 2*binary.MaxVarintLen64 + len(k) + len(v)
	}
	b := make([]byte, 0, n)
	b = append(b, recordVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixNano()))
	b = appendString(b, msg.UUID)
	b = binary.AppendUvarint(b, uint64(len(msg.Metadata)))
	for k, v := range msg.Metadata {
		b = appendString(b, k)
		b = appendString(b, v)
	}
	return append(b, msg.Payload...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errCorrupt = errors.New("corrupt spool record")

// recordTime returns when the record was appended.
func recordTime(b []byte) (time.Time, error) {
	if len(b) < 9 || b[0] != recordVersion {
		return time.Time{}, errCorrupt
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))), nil
}

// decodeRecord rebuilds the message; b is copied.
func decodeRecord(b []byte) (*message.Message, error) {
	if _, err := recordTime(b); err != nil {
		return nil, err
	}
	r := b[9:]
	uuid, r, err := readString(r)
	if err != nil {
		return nil, fmt.Errorf("uuid: %w", err)
	}
	pairs, k := binary.Uvarint(r)
	if k <= 0 || pairs > uint64(len(r)) {
		return nil, fmt.Errorf("metadata count: %w", errCorrupt)
	}
	r = r[k:]
	meta := make(message.Metadata, pairs)
	for i := uint64(0); i < pairs; i++ {
		var key, val string
		if key, r, err = readString(r); err != nil {
			return nil, fmt.Errorf("metadata key %d: %w", i, err)
		}
		if val, r, err = readString(r); err != nil {
			return nil, fmt.Errorf("metadata %q: %w", key, err)
		}
		meta[key] = val
	}
	msg := message.NewMessage(uuid, append([]byte(nil), r...))
	msg.Metadata = meta
	return msg, nil
}

func readString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, errCorrupt
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}
