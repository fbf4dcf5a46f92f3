package reading

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/edgeflow/edgeflow/stages"
)

var t0 = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

func TestParseJSONLine(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    []Reading
		wantErr string
	}{
		{name: "single reading",
			line: `{"node":"mote-1","stream":"temperature","ts":"2026-01-02T15:04:05Z","value":30.21,"labels":{"room":"a"}}`,
			want: []Reading{{Node: "mote-1", Stream: "temperature", Time: t0, Value: 30.21, Labels: map[string]string{"room": "a"}}}},
		{name: "unix seconds number",
			line: `{"stream":"t","ts":1767366245,"value":1}`,
			want: []Reading{{Stream: "t", Time: t0, Value: 1}}},
		{name: "unix seconds with nanoseconds exact",
			line: `{"stream":"t","ts":1767366245.123456789,"value":1}`,
			want: []Reading{{Stream: "t", Time: t0.Add(123456789), Value: 1}}},
		{name: "unix seconds as string",
			line: `{"stream":"t","ts":"1767366245","value":1}`,
			want: []Reading{{Stream: "t", Time: t0, Value: 1}}},
		{name: "value as string",
			line: `{"stream":"t","ts":"2026-01-02T15:04:05Z","value":"-Inf"}`,
			want: []Reading{{Stream: "t", Time: t0, Value: math.Inf(-1)}}},
		{name: "multi-value expands in field order",
			line: `{"node":"n","stream":"env","ts":1767366245,"values":{"temperature":30.2,"humidity":43.8},"labels":{"k":"v"}}`,
			want: []Reading{
				{Node: "n", Stream: "env.humidity", Time: t0, Value: 43.8, Labels: map[string]string{"k": "v"}},
				{Node: "n", Stream: "env.temperature", Time: t0, Value: 30.2, Labels: map[string]string{"k": "v"}},
			}},
		{name: "multi-value without stream",
			line: `{"ts":1767366245,"values":{"humidity":43.8}}`,
			want: []Reading{{Stream: "humidity", Time: t0, Value: 43.8}}},
		{name: "missing stream", line: `{"ts":1767366245,"value":1}`, wantErr: `field "stream" is missing`},
		{name: "missing ts", line: `{"stream":"t","value":1}`, wantErr: `field "ts" is missing`},
		{name: "missing value", line: `{"stream":"t","ts":1}`, wantErr: `field "value" is missing`},
		{name: "bad ts", line: `{"stream":"t","ts":"yesterday","value":1}`, wantErr: `field "ts": timestamp "yesterday"`},
		{name: "ts null", line: `{"stream":"t","ts":null,"value":1}`, wantErr: `field "ts": want an RFC 3339 string`},
		{name: "bad value", line: `{"stream":"t","ts":1,"value":"hot"}`, wantErr: `field "value": value "hot" is not a number`},
		{name: "value true", line: `{"stream":"t","ts":1,"value":true}`, wantErr: `field "value": want a number`},
		{name: "bad multi value", line: `{"stream":"env","ts":1,"values":{"a":1,"b":"x"}}`, wantErr: `field "values.b"`},
		{name: "both value and values", line: `{"stream":"t","ts":1,"value":1,"values":{"a":1}}`, wantErr: `both set`},
		{name: "empty values", line: `{"stream":"t","ts":1,"values":{}}`, wantErr: `"values" is empty`},
		{name: "unknown field", line: `{"stream":"t","ts":1,"value":1,"vlaue":2}`, wantErr: `unknown field "vlaue"`},
		{name: "labels not strings", line: `{"stream":"t","ts":1,"value":1,"labels":{"a":1}}`, wantErr: `field "labels"`},
		{name: "not an object", line: `[1,2]`, wantErr: `not a JSON object`},
		{name: "null", line: `null`, wantErr: `not a JSON object`},
		{name: "trailing garbage", line: `{"stream":"t","ts":1,"value":1} x`, wantErr: `not a JSON object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []Reading{{Stream: "kept"}}
			got, err := ParseJSONLine([]byte(tt.line), prefix)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				if len(got) != 1 {
					t.Fatalf("dst changed on error: %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got[1:], tt.want) {
				t.Fatalf("got %+v\nwant %+v", got[1:], tt.want)
			}
		})
	}
}

func TestParseJSONLineOptionsDefaults(t *testing.T) {
	got, err := ParseJSONLineOptions([]byte(`{"ts":1767366245,"value":2}`), nil, JSONOptions{Node: "n1", Stream: "sensors/room1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Reading{{Node: "n1", Stream: "sensors/room1", Time: t0, Value: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	got, _ = ParseJSONLineOptions([]byte(`{"node":"n2","stream":"s","ts":1767366245,"value":2}`), nil, JSONOptions{Node: "n1", Stream: "x"})
	if got[0].Node != "n2" || got[0].Stream != "s" {
		t.Fatalf("fields in the object must win over defaults: %+v", got)
	}
}

func TestParseJSON(t *testing.T) {
	got, err := ParseJSON([]byte(` [{"stream":"a","ts":1,"value":1},{"stream":"b","ts":2,"values":{"x":2,"y":3}}] `), nil, JSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2].Stream != "b.y" {
		t.Fatalf("got %+v", got)
	}
	if _, err := ParseJSON([]byte(`{"stream":"a","ts":1,"value":1}`), nil, JSONOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = ParseJSON([]byte(`[{"stream":"a","ts":1,"value":1},{"stream":"b","ts":2}]`), nil, JSONOptions{})
	if err == nil || !strings.Contains(err.Error(), "element 1: ") {
		t.Fatalf("error = %v, want it to name element 1", err)
	}
}

func TestDecodePayloadRoundTrip(t *testing.T) {
	rs := []Reading{
		{Node: "n", Stream: "a", Time: t0, Value: 1.5, Labels: map[string]string{"anomaly": "spike"}},
		{Node: "n", Stream: "b", Time: t0.Add(time.Nanosecond), Value: math.Copysign(0, -1)},
		{Stream: "c", Time: t0, Value: math.NaN()},
		{Stream: "d", Time: t0, Value: math.Float64frombits(0x7ff8000000000001)},
		{Stream: "e \"quoted\"", Time: t0, Value: math.Inf(1)},
		{Stream: "f", Time: t0, Value: 5e-324},
	}
	payload := AppendJSONLines(nil, rs)
	got, err := DecodePayload(payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rs) {
		t.Fatalf("got %d readings, want %d", len(got), len(rs))
	}
	for i := range rs {
		if math.Float64bits(got[i].Value) != math.Float64bits(rs[i].Value) || !got[i].Time.Equal(rs[i].Time) ||
			got[i].Stream != rs[i].Stream || got[i].Node != rs[i].Node || !reflect.DeepEqual(got[i].Labels, rs[i].Labels) {
			t.Errorf("reading %d: got %+v, want %+v", i, got[i], rs[i])
		}
	}
}

func TestDecodePayloadNamesLine(t *testing.T) {
	payload := "{\"stream\":\"a\",\"ts\":1,\"value\":1}\n\n{\"stream\":\"a\",\"ts\":1,\"value\":1}\n{\"stream\":\"a\",\"ts\":1}\n"
	got, err := DecodePayload([]byte(payload), nil)
	var le *LineError
	if !errors.As(err, &le) || le.Line != 4 {
		t.Fatalf("error = %v, want a LineError for line 4", err)
	}
	if len(got) != 0 {
		t.Fatalf("dst changed on error: %v", got)
	}
}

func TestNewMessage(t *testing.T) {
	rs := []Reading{{Node: "n", Stream: "a", Time: t0, Value: 1}, {Node: "n", Stream: "b", Time: t0, Value: 2}}
	msg := NewMessage(rs)
	if msg.UUID == "" || msg.Metadata.Get(stages.MetaKind) != stages.KindReadings || msg.Metadata.Get(stages.MetaNode) != "n" {
		t.Fatalf("message %q metadata %v", msg.UUID, msg.Metadata)
	}
	if NewMessage(rs).UUID == msg.UUID {
		t.Fatal("UUIDs repeat")
	}
	got, err := DecodePayload(msg.Payload, nil)
	if err != nil || len(got) != 2 {
		t.Fatalf("decode: %v %v", got, err)
	}
	mixed := NewMessage([]Reading{{Node: "n", Stream: "a", Time: t0}, {Node: "m", Stream: "a", Time: t0}})
	if mixed.Metadata.Get(stages.MetaNode) != "" {
		t.Fatal("node metadata set for readings of several nodes")
	}
}

func TestUnmarshalJSONNumberTime(t *testing.T) {
	var r Reading
	if err := r.UnmarshalJSON([]byte(`{"stream":"t","ts":1767366245,"value":3}`)); err != nil {
		t.Fatal(err)
	}
	if !r.Time.Equal(t0) || r.Value != 3 {
		t.Fatalf("got %+v", r)
	}
}

func FuzzParseJSONLine(f *testing.F) {
	for _, s := range []string{
		`{"node":"mote-1","stream":"temperature","ts":"2026-01-02T15:04:05Z","value":30.21,"labels":{"room":"a"}}`,
		`{"stream":"env","ts":1767366245.5,"values":{"humidity":43.8,"temperature":30.2}}`,
		`{"stream":"t","ts":"2013-07-04 00:00:00","value":"NaN(0x7ff8000000000001)"}`,
		`{"stream":"t","ts":-1.5,"value":-0}`,
		`{"stream":"t","ts":1e9,"value":"+Inf"}`,
		`[]`, `null`, `{}`, `{"ts":{}}`,
		`{"node":"\u0000<n>","stream":"a\"b","ts":"2026-01-02T15:04:05.123Z","value":-1.5e-3}`,
		`{"node":"n","stream":"s","ts":"2026-01-02T15:04:05+01:00","value":"-Inf"}`,
		`{"stream":"s","ts":"2026-01-02T15:04:05Z","value":01}`,
		`{"stream":"s","ts":"2026-01-02T15:04:05Z","value":1,"labels":{"anomaly":"spike"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		rs, err := ParseJSONLine(line, nil)
		if fast, ok := parseCanonical(line, nil); ok {
			// The fast path must agree with the general parser.
			general, err := parseJSONLine(line, nil, JSONOptions{})
			if err != nil || len(general) != 1 || !reflect.DeepEqual(fast, general[0]) && !sameBits(fast, general[0]) {
				t.Fatalf("fast path gives %+v, general parser %+v, %v", fast, general, err)
			}
		}
		if err != nil {
			return
		}
		// What parses must survive a round trip bit-exact.
		back, err := DecodePayload(AppendJSONLines(nil, rs), nil)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", AppendJSONLines(nil, rs), err)
		}
		for i := range rs {
			if math.Float64bits(back[i].Value) != math.Float64bits(rs[i].Value) || !back[i].Time.Equal(rs[i].Time) || back[i].Stream != rs[i].Stream {
				t.Fatalf("round trip changed %+v to %+v", rs[i], back[i])
			}
		}
	})
}

func FuzzDecodePayload(f *testing.F) {
	f.Add([]byte("{\"stream\":\"a\",\"ts\":1,\"value\":1}\n{\"stream\":\"b\",\"ts\":\"2026-01-02T15:04:05.5Z\",\"value\":\"-Inf\"}\n"))
	f.Add([]byte("\n\n{\"stream\":\"a\",\"ts\":1}\n"))
	f.Add([]byte("{\"stream\":\"env\",\"ts\":1,\"values\":{\"x\":1}}\r\n"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		rs, err := DecodePayload(payload, nil)
		var le *LineError
		if err != nil && (!errors.As(err, &le) || le.Line < 1) {
			t.Fatalf("error %v is not a LineError", err)
		}
		if err != nil && len(rs) != 0 {
			t.Fatal("readings returned with an error")
		}
	})
}

// sameBits compares readings with values compared bit for bit (NaN != NaN otherwise).
func sameBits(a, b Reading) bool {
	return a.Node == b.Node && a.Stream == b.Stream && a.Time.Equal(b.Time) && a.Time.Location() == b.Time.Location() &&
		math.Float64bits(a.Value) == math.Float64bits(b.Value) && reflect.DeepEqual(a.Labels, b.Labels)
}
