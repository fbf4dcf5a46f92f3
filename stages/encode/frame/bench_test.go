package frame

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// reportSpeed reports values per second of wall time and of the benchmark
// thread's CPU time (the single-core speed, even when other processes share the
// machine).
func reportSpeed(b *testing.B, values int, cpu0 time.Duration) {
	total := float64(values) * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds()/1e6, "Mvalues/s")
	if cpu := threadCPUTime() - cpu0; cpu > 0 {
		b.ReportMetric(total/cpu.Seconds()/1e6, "Mvalues/cpu-s")
	}
}

// benchSets are the real data sets the benchmarks run on, cut into blocks of
// 1000 values (the encode stage's default).
var benchSets = []struct {
	name string
	load func(testing.TB) []dataset
}{{"telosb", loadTelosB}, {"nab", loadNAB}}

func benchBlocks(b *testing.B, load func(testing.TB) []dataset) (blocks []Block, values int) {
	for _, ds := range load(b) {
		blocks = append(blocks, ds.blocks(1000)...)
		values += len(ds.vals)
	}
	return blocks, values
}

var benchCodecs = []Codec{CodecNone, CodecZlib, CodecLZ4, CodecZstd, CodecF32DiffZlib}

func BenchmarkEncode(b *testing.B) {
	for _, set := range benchSets {
		for _, codec := range benchCodecs {
			b.Run(set.name+"/"+codec.String(), func(b *testing.B) {
				blocks, values := benchBlocks(b, set.load)
				enc, err := NewEncoder(Options{Codec: codec})
				if err != nil {
					b.Fatal(err)
				}
				var buf []byte
				for i := range blocks { // warm up scratch buffers
					buf, _ = enc.Encode(buf[:0], &blocks[i])
				}
				b.SetBytes(int64(16 * values))
				b.ReportAllocs()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0 := threadCPUTime()
				b.ResetTimer()
				frameBytes := 0
				for b.Loop() {
					frameBytes = 0
					for i := range blocks {
						if buf, err = enc.Encode(buf[:0], &blocks[i]); err != nil {
							b.Fatal(err)
						}
						frameBytes += len(buf)
					}
				}
				reportSpeed(b, values, cpu0)
				b.ReportMetric(float64(8*frameBytes)/float64(values), "bits/value")
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, set := range benchSets {
		for _, codec := range benchCodecs {
			b.Run(set.name+"/"+codec.String(), func(b *testing.B) {
				blocks, values := benchBlocks(b, set.load)
				enc, err := NewEncoder(Options{Codec: codec})
				if err != nil {
					b.Fatal(err)
				}
				var frames [][]byte
				for i := range blocks {
					f, err := enc.Encode(nil, &blocks[i])
					if err != nil {
						b.Fatal(err)
					}
					frames = append(frames, f)
				}
				dec := NewDecoder()
				var out Block
				for _, f := range frames { // warm up
					if _, err := dec.Decode(f, &out); err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(int64(16 * values))
				b.ReportAllocs()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0 := threadCPUTime()
				b.ResetTimer()
				for b.Loop() {
					for _, f := range frames {
						if _, err := dec.Decode(f, &out); err != nil {
							b.Fatal(err)
						}
					}
				}
				reportSpeed(b, values, cpu0)
			})
		}
	}
}

// perSetBlocks groups the real data the way make bench-encode reports it: one
// entry per NAB file and per TelosB column (all motes together).
func perSetBlocks(b testing.TB) (names []string, sets [][]Block, counts []int) {
	add := func(name string, ds dataset) {
		i := 0
		for i < len(names) && names[i] != name {
			i++
		}
		if i == len(names) {
			names, sets, counts = append(names, name), append(sets, nil), append(counts, 0)
		}
		sets[i] = append(sets[i], ds.blocks(1000)...)
		counts[i] += len(ds.vals)
	}
	for _, ds := range loadNAB(b) {
		add(strings.TrimSuffix(strings.TrimPrefix(ds.name, "nab/"), ".csv"), ds)
	}
	for _, ds := range loadTelosB(b) {
		add("telosb-"+ds.name[strings.LastIndexByte(ds.name, '/')+1:], ds)
	}
	return names, sets, counts
}

// BenchmarkSets encodes and decodes each data set on its own with no back
// end: the rows the speed targets apply to.
func BenchmarkSets(b *testing.B) {
	names, sets, counts := perSetBlocks(b)
	for si, name := range names {
		blocks, values := sets[si], counts[si]
		enc, err := NewEncoder(Options{Codec: CodecNone})
		if err != nil {
			b.Fatal(err)
		}
		var frames [][]byte
		for i := range blocks {
			f, err := enc.Encode(nil, &blocks[i])
			if err != nil {
				b.Fatal(err)
			}
			frames = append(frames, f)
		}
		b.Run("encode/"+name, func(b *testing.B) {
			var buf []byte
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := threadCPUTime()
			for b.Loop() {
				for i := range blocks {
					if buf, err = enc.Encode(buf[:0], &blocks[i]); err != nil {
						b.Fatal(err)
					}
				}
			}
			reportSpeed(b, values, cpu0)
		})
		b.Run("decode/"+name, func(b *testing.B) {
			dec := NewDecoder()
			var out Block
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := threadCPUTime()
			for b.Loop() {
				for _, f := range frames {
					if _, err := dec.Decode(f, &out); err != nil {
						b.Fatal(err)
					}
				}
			}
			reportSpeed(b, values, cpu0)
		})
	}
}
