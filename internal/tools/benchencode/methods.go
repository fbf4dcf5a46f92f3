package main

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/edgeflow/edgeflow/stages/encode/frame"
)

// block is one frame's worth of a stream.
type block struct {
	stream     string
	seq        uint64
	timestamps []int64
	values     []float64
}

// codec is one compression method under test. newCoder returns fresh state so
// that every run starts alike.
type codec struct {
	name string
	// valuesOnly: the encoding holds only the values (no timestamps, no header).
	valuesOnly bool
	// lossless: the method promises bit-exact values.
	lossless bool
	newCoder func() (coder, error)
}

type coder interface {
	// encode appends the encoding of b to dst.
	encode(dst []byte, b *block) ([]byte, error)
	// decode decodes one encoding made by encode, appending its values to vals.
	decode(src []byte, vals []float64) ([]float64, error)
}

func frameCodec(name string, opts frame.Options) codec {
	return codec{name: name, lossless: opts.MaxError == 0 && opts.Codec != frame.CodecF32DiffZlib,
		newCoder: func() (coder, error) {
			enc, err := frame.NewEncoder(opts)
			if err != nil {
				return nil, err
			}
			return &frameCoder{enc: enc, dec: frame.NewDecoder()}, nil
		}}
}

type frameCoder struct {
	enc *frame.Encoder
	dec *frame.Decoder
	blk frame.Block
}

func (c *frameCoder) encode(dst []byte, b *block) ([]byte, error) {
	c.blk = frame.Block{Stream: b.stream, Seq: b.seq, Timestamps: b.timestamps, Values: b.values}
	return c.enc.Encode(dst, &c.blk)
}

func (c *frameCoder) decode(src []byte, vals []float64) ([]float64, error) {
	if _, err := c.dec.Decode(src, &c.blk); err != nil {
		return vals, err
	}
	return append(vals, c.blk.Values...), nil
}

// rawBytes appends the little-endian float64 bytes of vals.
func rawBytes(dst []byte, vals []float64) []byte {
	for _, v := range vals {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
	}
	return dst
}

func fromRawBytes(vals []float64, raw []byte) ([]float64, error) {
	if len(raw)%8 != 0 {
		return vals, fmt.Errorf("%d bytes is not a whole number of float64", len(raw))
	}
	for i := 0; i < len(raw); i += 8 {
		vals = append(vals, math.Float64frombits(binary.LittleEndian.Uint64(raw[i:])))
	}
	return vals, nil
}

// zlibCodec compresses raw float64 bytes with zlib (compress/zlib, level 6).
var zlibCodec = codec{name: "zlib alone (raw float64, level 6)", valuesOnly: true, lossless: true,
	newCoder: func() (coder, error) {
		w, err := zlib.NewWriterLevel(io.Discard, 6)
		return &zlibCoder{w: w}, err
	}}

type zlibCoder struct {
	w   *zlib.Writer
	out bytes.Buffer
	raw []byte
	r   io.ReadCloser
	rd  bytes.Reader
}

func (c *zlibCoder) encode(dst []byte, b *block) ([]byte, error) {
	c.raw = rawBytes(c.raw[:0], b.values)
	c.out.Reset()
	c.w.Reset(&c.out)
	if _, err := c.w.Write(c.raw); err != nil {
		return dst, err
	}
	if err := c.w.Close(); err != nil {
		return dst, err
	}
	return append(dst, c.out.Bytes()...), nil
}

func (c *zlibCoder) decode(src []byte, vals []float64) ([]float64, error) {
	c.rd.Reset(src)
	var err error
	if c.r == nil {
		c.r, err = zlib.NewReader(&c.rd)
	} else {
		err = c.r.(zlib.Resetter).Reset(&c.rd, nil)
	}
	if err != nil {
		return vals, err
	}
	c.out.Reset()
	if _, err := c.out.ReadFrom(c.r); err != nil {
		return vals, err
	}
	return fromRawBytes(vals, c.out.Bytes())
}

// zstdCodec compresses raw float64 bytes with zstd (klauspost/compress, default level).
var zstdCodec = codec{name: "zstd alone (raw float64, default level)", valuesOnly: true, lossless: true,
	newCoder: func() (coder, error) {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		return &zstdCoder{enc: enc, dec: dec}, err
	}}

type zstdCoder struct {
	enc      *zstd.Encoder
	dec      *zstd.Decoder
	raw, out []byte
}

func (c *zstdCoder) encode(dst []byte, b *block) ([]byte, error) {
	c.raw = rawBytes(c.raw[:0], b.values)
	return c.enc.EncodeAll(c.raw, dst), nil
}

func (c *zstdCoder) decode(src []byte, vals []float64) ([]float64, error) {
	var err error
	c.out, err = c.dec.DecodeAll(src, c.out[:0])
	if err != nil {
		return vals, err
	}
	return fromRawBytes(vals, c.out)
}

// gorillaCodec is Prometheus' XOR chunk (Gorilla): millisecond timestamps as
// delta-of-delta, values XORed with the previous one.
var gorillaCodec = codec{name: "Gorilla (Prometheus XOR chunk)", lossless: true,
	newCoder: func() (coder, error) { return &gorillaCoder{}, nil }}

type gorillaCoder struct {
	it chunkenc.Iterator
}

func (c *gorillaCoder) encode(dst []byte, b *block) ([]byte, error) {
	chunk := chunkenc.NewXORChunk()
	app, err := chunk.Appender()
	if err != nil {
		return dst, err
	}
	for i, v := range b.values {
		app.Append(0, b.timestamps[i]/1e6, v)
	}
	return append(dst, chunk.Bytes()...), nil
}

func (c *gorillaCoder) decode(src []byte, vals []float64) ([]float64, error) {
	chunk, err := chunkenc.FromData(chunkenc.EncXOR, src)
	if err != nil {
		return vals, err
	}
	c.it = chunk.Iterator(c.it)
	for c.it.Next() != chunkenc.ValNone {
		_, v := c.it.At()
		vals = append(vals, v)
	}
	return vals, c.it.Err()
}
