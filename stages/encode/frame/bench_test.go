package frame

import (
	"testing"
)

// benchBlocks returns the real data sets cut into blocks of 1000 values.
func benchBlocks(b *testing.B) (blocks []Block, values int) {
	sets := append(loadTelosB(b), loadNAB(b)...)
	for _, ds := range sets {
		blocks = append(blocks, ds.blocks(1000)...)
		values += len(ds.vals)
	}
	return blocks, values
}

var benchCodecs = []Codec{CodecNone, CodecZlib, CodecLZ4, CodecZstd, CodecF32DiffZlib}

func BenchmarkEncode(b *testing.B) {
	blocks, values := benchBlocks(b)
	for _, codec := range benchCodecs {
		b.Run(codec.String(), func(b *testing.B) {
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
			b.ReportMetric(float64(values)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mvalues/s")
			b.ReportMetric(float64(8*frameBytes)/float64(values), "bits/value")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	blocks, values := benchBlocks(b)
	for _, codec := range benchCodecs {
		b.Run(codec.String(), func(b *testing.B) {
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
			b.ResetTimer()
			for b.Loop() {
				for _, f := range frames {
					if _, err := dec.Decode(f, &out); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(values)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mvalues/s")
		})
	}
}
