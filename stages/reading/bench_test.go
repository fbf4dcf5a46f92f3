package reading

import (
	"testing"
	"time"
)

func benchPayload(n int) []byte {
	rs := make([]Reading, n)
	for i := range rs {
		rs[i] = Reading{Node: "mote-1", Stream: "temperature", Time: t0.Add(time.Duration(i) * 5 * time.Second), Value: 20 + float64(i%100)/100}
	}
	return AppendJSONLines(nil, rs)
}

func BenchmarkDecodePayload(b *testing.B) {
	payload := benchPayload(100)
	var rs []Reading
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if rs, err = DecodePayload(payload, rs[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/reading")
}

func BenchmarkAppendJSONLines(b *testing.B) {
	rs, _ := DecodePayload(benchPayload(100), nil)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendJSONLines(buf[:0], rs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/reading")
}
