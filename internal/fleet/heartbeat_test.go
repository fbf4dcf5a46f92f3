package fleet

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestHeartbeatJSONRoundTrip(t *testing.T) {
	one := int64(1)
	hb := Heartbeat{
		Schema: 1, NodeID: "gw-7", Labels: map[string]string{"site": "plant-1", "zone": "a"}, Version: "v1.2.3",
		Time: time.Date(2026, 11, 27, 0, 0, 5, 123000000, time.UTC), Sequence: 42, IntervalMillis: 5000,
		Capacity:     HeartbeatResources{MilliCPU: 4000, MemoryBytes: 8 << 30, DiskBytes: 64 << 30, Accelerators: 1},
		Free:         HeartbeatResources{MilliCPU: 3100, MemoryBytes: 5 << 30, DiskBytes: 40 << 30, Accelerators: 1},
		Accelerators: []Accelerator{{Kind: "npu", Count: 1, Free: &one}},
		Pipelines:    []string{"boiler", "camera"},
	}
	data, err := json.Marshal(hb)
	if err != nil {
		t.Fatal(err)
	}
	// The field names are the documented schema (docs/topics.md).
	for _, field := range []string{`"schema":1`, `"node_id":"gw-7"`, `"seq":42`, `"interval_ms":5000`,
		`"milli_cpu":4000`, `"memory_bytes"`, `"disk_bytes"`, `"accelerators":[{"kind":"npu","count":1,"free":1}]`,
		`"pipelines":["boiler","camera"]`, `"time":"2026-11-27T00:00:05.123Z"`} {
		if !strings.Contains(string(data), field) {
			t.Errorf("%s lacks %s", data, field)
		}
	}
	got, err := DecodeHeartbeat(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, hb) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, hb)
	}
}

func TestDecodeHeartbeatErrors(t *testing.T) {
	valid := `"node_id":"n1","time":"2026-01-01T00:00:00Z"`
	tests := []struct {
		name, json, wantField string
	}{
		{"not json", `{`, "heartbeat"},
		{"newer schema", `{"schema":2,` + valid + `}`, "schema"},
		{"no schema", `{` + valid + `}`, "schema"},
		{"bad node id", `{"schema":1,"node_id":"-x","time":"2026-01-01T00:00:00Z"}`, "node_id"},
		{"no time", `{"schema":1,"node_id":"n1"}`, "time"},
		{"negative free", `{"schema":1,` + valid + `,"free":{"milli_cpu":-1}}`, "free"},
		{"accelerator free above count", `{"schema":1,` + valid + `,"accelerators":[{"kind":"gpu","count":1,"free":2}]}`, "accelerators[0]"},
		{"empty pipeline name", `{"schema":1,` + valid + `,"pipelines":[""]}`, "pipelines[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeHeartbeat([]byte(tt.json))
			if !errors.Is(err, ErrInvalidHeartbeat) || !strings.Contains(err.Error(), tt.wantField) {
				t.Fatalf("DecodeHeartbeat(%s) = %v, want an ErrInvalidHeartbeat naming %s", tt.json, err, tt.wantField)
			}
		})
	}
	if _, err := DecodeHeartbeat([]byte(`{"schema":1,` + valid + `,"added_later":true}`)); err != nil {
		t.Fatalf("unknown field: %v", err)
	}
}

func FuzzDecodeHeartbeat(f *testing.F) {
	f.Add([]byte(`{"schema":1,"node_id":"n1","time":"2026-01-01T00:00:00Z","capacity":{"milli_cpu":1000},"pipelines":["a"]}`))
	f.Add([]byte(`{"schema":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		hb, err := DecodeHeartbeat(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(hb)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeHeartbeat(again); err != nil {
			t.Fatalf("re-encoded heartbeat does not decode: %v", err)
		}
	})
}
