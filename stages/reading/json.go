package reading

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/stages"
)

// JSONOptions fill in what a JSON reading may leave out.
type JSONOptions struct {
	// Node is used when an object has no "node".
	Node string
	// Stream is used when an object has no "stream" (e.g. the MQTT topic);
	// when it is empty too, a missing stream is an error.
	Stream string
}

// ParseJSONLine parses one JSON object and appends its readings to dst.
//
// The object is either a single reading
//
//	{"node":"mote-1","stream":"temperature","ts":"2026-01-02T15:04:05Z","value":30.21,"labels":{"room":"a"}}
//
// or a multi-value reading, which expands to one reading per field of "values",
// in field-name order, named "<stream>.<field>" (just "<field>" without a stream):
//
//	{"stream":"env","ts":1767366245,"values":{"humidity":43.8,"temperature":30.2}}
//	→ env.humidity = 43.8, env.temperature = 30.2 (same node, time and labels)
//
// "ts" is an RFC 3339 string or a number of Unix seconds (see ParseTime); a value is
// a JSON number or a string ParseValue accepts ("NaN", "+Inf", …). "node" and
// "labels" are optional. Unknown fields are errors, so typos do not pass silently.
// On error dst is returned unchanged.
func ParseJSONLine(line []byte, dst []Reading) ([]Reading, error) {
	return ParseJSONLineOptions(line, dst, JSONOptions{})
}

// ParseJSONLineOptions is ParseJSONLine with defaults for node and stream.
func ParseJSONLineOptions(line []byte, dst []Reading, opts JSONOptions) ([]Reading, error) {
	var prev *Reading
	if len(dst) > 0 {
		prev = &dst[len(dst)-1]
	}
	if r, ok := parseCanonical(line, prev); ok {
		if r.Node == "" {
			r.Node = opts.Node
		}
		return append(dst, r), nil
	}
	return parseJSONLine(line, dst, opts)
}

// parseJSONLine is the general parser behind ParseJSONLineOptions.
func parseJSONLine(line []byte, dst []Reading, opts JSONOptions) ([]Reading, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		return dst, fmt.Errorf("not a JSON object: %w", jsonError(err))
	}
	if fields == nil {
		return dst, fmt.Errorf("not a JSON object: null")
	}
	var (
		node, stream        = opts.Node, opts.Stream
		labels              map[string]string
		rawTime             json.RawMessage
		rawValue            json.RawMessage
		rawValues           map[string]json.RawMessage
		hasValue, hasValues bool
	)
	for _, key := range sortedKeys(fields) {
		raw := fields[key]
		switch key {
		case "node":
			if err := json.Unmarshal(raw, &node); err != nil {
				return dst, fmt.Errorf(`field "node": want a string`)
			}
		case "stream":
			if err := json.Unmarshal(raw, &stream); err != nil {
				return dst, fmt.Errorf(`field "stream": want a string`)
			}
		case "ts":
			rawTime = raw
		case "value":
			rawValue, hasValue = raw, true
		case "values":
			if err := json.Unmarshal(raw, &rawValues); err != nil || rawValues == nil {
				return dst, fmt.Errorf(`field "values": want an object of field names to values`)
			}
			hasValues = true
		case "labels":
			if err := json.Unmarshal(raw, &labels); err != nil {
				return dst, fmt.Errorf(`field "labels": want an object of strings`)
			}
		default:
			return dst, fmt.Errorf("unknown field %q (want node, stream, ts, value or values, labels)", key)
		}
	}
	if rawTime == nil {
		return dst, fmt.Errorf(`field "ts" is missing`)
	}
	t, err := parseJSONTime(rawTime)
	if err != nil {
		return dst, fmt.Errorf(`field "ts": %w`, err)
	}
	switch {
	case hasValue && hasValues:
		return dst, fmt.Errorf(`fields "value" and "values" both set; use one`)
	case hasValue:
		if stream == "" {
			return dst, fmt.Errorf(`field "stream" is missing or empty`)
		}
		v, err := parseJSONValue(rawValue)
		if err != nil {
			return dst, fmt.Errorf(`field "value": %w`, err)
		}
		return append(dst, Reading{Node: node, Stream: stream, Time: t, Value: v, Labels: labels}), nil
	case hasValues:
		if len(rawValues) == 0 {
			return dst, fmt.Errorf(`field "values" is empty`)
		}
		n := len(dst)
		for _, name := range sortedKeys(rawValues) {
			if name == "" {
				return dst[:n], fmt.Errorf(`field "values": empty field name`)
			}
			v, err := parseJSONValue(rawValues[name])
			if err != nil {
				return dst[:n], fmt.Errorf(`field "values.%s": %w`, name, err)
			}
			s := name
			if stream != "" {
				s = stream + "." + name
			}
			dst = append(dst, Reading{Node: node, Stream: s, Time: t, Value: v, Labels: labels})
		}
		return dst, nil
	}
	return dst, fmt.Errorf(`field "value" is missing (or give "values")`)
}

// ParseJSON parses a JSON document holding one reading object or an array of
// them (the body of an application/json request) and appends the readings to dst.
// Errors name the array element; on error dst is returned unchanged.
func ParseJSON(doc []byte, dst []Reading, opts JSONOptions) ([]Reading, error) {
	trimmed := bytes.TrimSpace(doc)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return ParseJSONLineOptions(trimmed, dst, opts)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(trimmed, &elems); err != nil {
		return dst, fmt.Errorf("not a JSON array of readings: %w", jsonError(err))
	}
	n := len(dst)
	for i, e := range elems {
		var err error
		if dst, err = ParseJSONLineOptions(e, dst, opts); err != nil {
			return dst[:n], fmt.Errorf("element %d: %w", i, err)
		}
	}
	return dst, nil
}

// DecodePayload parses a message payload of kind stages.KindReadings: JSON lines,
// one object per line as ParseJSONLine reads them; blank lines are skipped. An
// error is a *LineError naming the 1-based line; dst is then returned unchanged.
func DecodePayload(payload []byte, dst []Reading) ([]Reading, error) {
	n := len(dst)
	for lineNo := 1; len(payload) > 0; lineNo++ {
		line := payload
		if i := bytes.IndexByte(payload, '\n'); i >= 0 {
			line, payload = payload[:i], payload[i+1:]
		} else {
			payload = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var err error
		if dst, err = ParseJSONLine(line, dst); err != nil {
			return dst[:n], &LineError{Line: lineNo, Err: err, Text: line}
		}
	}
	return dst, nil
}

// AppendJSONLines appends rs as JSON lines (each object followed by '\n') to dst.
// DecodePayload reads them back bit-exact.
func AppendJSONLines(dst []byte, rs []Reading) []byte {
	for _, r := range rs {
		dst = AppendJSON(dst, r)
		dst = append(dst, '\n')
	}
	return dst
}

// NewMessage returns a message of kind stages.KindReadings with a fresh UUID
// holding rs as JSON lines. When all readings share a node, stages.MetaNode is set.
func NewMessage(rs []Reading) *message.Message {
	msg := message.NewMessage(watermill.NewUUID(), AppendJSONLines(make([]byte, 0, 96*len(rs)), rs))
	msg.Metadata.Set(stages.MetaKind, stages.KindReadings)
	if len(rs) > 0 && rs[0].Node != "" {
		same := true
		for _, r := range rs[1:] {
			if r.Node != rs[0].Node {
				same = false
				break
			}
		}
		if same {
			msg.Metadata.Set(stages.MetaNode, rs[0].Node)
		}
	}
	return msg
}

// LineError is an error about one line of input; the input may go on after it.
type LineError struct {
	Line int // 1-based
	Err  error
	// Text is the line as read, for dead letters, when the reader has it (a CSV
	// row is its fields joined again by the separator; a line over the length
	// limit is left out).
	Text []byte
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

func parseJSONTime(raw json.RawMessage) (t time.Time, err error) {
	s := string(bytes.TrimSpace(raw))
	switch {
	case strings.HasPrefix(s, `"`):
		if err := json.Unmarshal(raw, &s); err != nil {
			return t, fmt.Errorf("bad string: %w", jsonError(err))
		}
	case s == "" || s == "null" || s == "true" || s == "false" || s[0] == '{' || s[0] == '[':
		return t, fmt.Errorf("want an RFC 3339 string or a number of Unix seconds, got %s", truncate(s))
	}
	return ParseTime(s)
}

func parseJSONValue(raw json.RawMessage) (float64, error) {
	s := string(bytes.TrimSpace(raw))
	switch {
	case strings.HasPrefix(s, `"`):
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, fmt.Errorf("bad string: %w", jsonError(err))
		}
	case s == "" || s == "null" || s == "true" || s == "false" || s[0] == '{' || s[0] == '[':
		return 0, fmt.Errorf("want a number, got %s", truncate(s))
	}
	return ParseValue(s)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// jsonError strips the "json: " prefix encoding/json puts on its messages.
func jsonError(err error) error {
	if msg, ok := strings.CutPrefix(err.Error(), "json: "); ok {
		return fmt.Errorf("%s", msg)
	}
	return err
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
