package model

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// The update wire format, version 1. Integers are unsigned varints (uv) or
// little-endian fixed width; strings are a uv length and UTF-8 bytes.
//
//	header   "EFLU" | version u8 (1) | kind u8 | quantization u8 | compression u8 | body length uv
//	body     (raw, or one zstd frame when compression is 1; body length is its decoded size)
//	           round uv | node string | examples uv
//	           metrics uv count, each: name string | value float64
//	           tensors uv count, each: name string | rank uv | dims uv...
//	           values, tensor by tensor in layout order:
//	             float32: 4 bytes a value
//	             float16: 2 bytes a value (IEEE binary16)
//	             int8:    scale float32, then 1 byte a value (value = q × scale)
//	trailer  CRC-32C (Castagnoli) u32 of every byte before it
//
// Decoders reject unknown versions, kinds, quantizations and compressions,
// trailing bytes, and a body whose length differs from the header's.

// Kind says what an update's parameters are.
type Kind uint8

const (
	// KindWeights: the parameters are a full model (the cloud's broadcast, or
	// an edge node sending its weights).
	KindWeights Kind = 1
	// KindDelta: the parameters are local weights minus the global model the
	// round started from.
	KindDelta Kind = 2
)

func (k Kind) String() string {
	switch k {
	case KindWeights:
		return "weights"
	case KindDelta:
		return "delta"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Quantization is how values are stored on the wire.
type Quantization uint8

const (
	Float32 Quantization = 0 // exact
	Float16 Quantization = 1 // IEEE binary16, relative error ≤ 2^-11 in range
	Int8    Quantization = 2 // per-tensor scale max|v|/127, stochastic rounding (unbiased)
)

func (q Quantization) String() string {
	switch q {
	case Float32:
		return "float32"
	case Float16:
		return "float16"
	case Int8:
		return "int8"
	}
	return fmt.Sprintf("quantization(%d)", uint8(q))
}

// WireVersion is the version AppendUpdate writes and DecodeUpdate reads.
const WireVersion = 1

// MaxUpdateBytes bounds a decoded body.
const MaxUpdateBytes = 4*MaxParameters + 1<<20

// Limits of an update's identification and metrics.
const (
	MaxMetrics = 64
)

var magic = []byte("EFLU")

// ErrMalformed is wrapped by every DecodeUpdate error about its input.
var ErrMalformed = errors.New("malformed update")

// FieldError says which field of an encoded update is wrong and where.
type FieldError struct {
	Field  string // e.g. "tensors[2].shape[1]"
	Offset int    // byte offset in the body (or in the header for header fields)
	Err    error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("update: byte %d: %s: %v", e.Offset, e.Field, e.Err)
}

// Unwrap returns ErrMalformed and the cause.
func (e *FieldError) Unwrap() []error { return []error{ErrMalformed, e.Err} }

// Metric is a named number an update carries (loss, accuracy, duration…).
type Metric struct {
	Name  string
	Value float64
}

// Update is one message of a federated round: the cloud's global model or
// an edge node's result of local training.
type Update struct {
	Round    uint64 // the round the parameters belong to
	Node     string // who sent it ("" allowed for the cloud)
	Examples uint64 // training examples behind it (FedAvg weight)
	Kind     Kind
	Metrics  []Metric
	Layout   Layout
	Params   []float32
}

// Metric returns the value of the named metric and whether it is present.
func (u *Update) Metric(name string) (float64, bool) {
	for _, m := range u.Metrics {
		if m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

// EncodeOptions choose the wire representation of the values.
type EncodeOptions struct {
	Quantization Quantization
	Compress     bool   // zstd the body
	Seed         uint64 // stochastic rounding of Int8 (with Round and Node: repeatable)
}

// AppendUpdate appends the encoding of u to dst. It fails when u does not
// fit the limits or its layout (error names the field) or when Int8 meets a
// value that is not finite.
func AppendUpdate(dst []byte, u *Update, opts EncodeOptions) ([]byte, error) {
	if u.Kind != KindWeights && u.Kind != KindDelta {
		return dst, fmt.Errorf("update: kind: %v unknown", u.Kind)
	}
	if opts.Quantization > Int8 {
		return dst, fmt.Errorf("update: quantization: %v unknown", opts.Quantization)
	}
	if len(u.Node) > MaxNameLen {
		return dst, fmt.Errorf("update: node: %d bytes, more than %d", len(u.Node), MaxNameLen)
	}
	if len(u.Metrics) > MaxMetrics {
		return dst, fmt.Errorf("update: metrics: %d, more than %d", len(u.Metrics), MaxMetrics)
	}
	for i, m := range u.Metrics {
		if len(m.Name) == 0 || len(m.Name) > MaxNameLen {
			return dst, fmt.Errorf("update: metrics[%d].name: length %d not in [1,%d]", i, len(m.Name), MaxNameLen)
		}
	}
	if err := u.Layout.Validate(); err != nil {
		return dst, fmt.Errorf("update: %w", err)
	}
	if len(u.Params) != u.Layout.NumParams() {
		return dst, fmt.Errorf("update: params: %d values, layout has %d", len(u.Params), u.Layout.NumParams())
	}

	body := make([]byte, 0, 64+len(u.Params)*valueSize(opts.Quantization))
	body = binary.AppendUvarint(body, u.Round)
	body = appendString(body, u.Node)
	body = binary.AppendUvarint(body, u.Examples)
	body = binary.AppendUvarint(body, uint64(len(u.Metrics)))
	for _, m := range u.Metrics {
		body = appendString(body, m.Name)
		body = binary.LittleEndian.AppendUint64(body, math.Float64bits(m.Value))
	}
	body = binary.AppendUvarint(body, uint64(len(u.Layout)))
	for _, t := range u.Layout {
		body = appendString(body, t.Name)
		body = binary.AppendUvarint(body, uint64(len(t.Shape)))
		for _, d := range t.Shape {
			body = binary.AppendUvarint(body, uint64(d))
		}
	}
	var rng *rand.Rand
	if opts.Quantization == Int8 {
		rng = rand.New(rand.NewPCG(opts.Seed^u.Round, crc64String(u.Node)))
	}
	off := 0
	for i, t := range u.Layout {
		vals := u.Params[off : off+t.Size()]
		off += t.Size()
		switch opts.Quantization {
		case Float32:
			for _, v := range vals {
				body = binary.LittleEndian.AppendUint32(body, math.Float32bits(v))
			}
		case Float16:
			for _, v := range vals {
				body = binary.LittleEndian.AppendUint16(body, float32ToHalf(v))
			}
		case Int8:
			var err error
			if body, err = appendInt8(body, vals, rng); err != nil {
				return dst, fmt.Errorf("update: tensors[%d] (%s): %w", i, t.Name, err)
			}
		}
	}

	start := len(dst)
	dst = append(dst, magic...)
	dst = append(dst, WireVersion, byte(u.Kind), byte(opts.Quantization), 0)
	dst = binary.AppendUvarint(dst, uint64(len(body)))
	if opts.Compress {
		dst[start+7] = 1
		dst = encoder().EncodeAll(body, dst)
	} else {
		dst = append(dst, body...)
	}
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli)), nil
}

func valueSize(q Quantization) int {
	switch q {
	case Float16:
		return 2
	case Int8:
		return 1
	}
	return 4
}

func appendInt8(body []byte, vals []float32, rng *rand.Rand) ([]byte, error) {
	var absMax float32
	for j, v := range vals {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return body, fmt.Errorf("value %d is %v, int8 needs finite values", j, v)
		}
		absMax = max(absMax, abs32(v))
	}
	scale := absMax / 127
	body = binary.LittleEndian.AppendUint32(body, math.Float32bits(scale))
	if scale == 0 {
		return append(body, make([]byte, len(vals))...), nil
	}
	inv := 1 / scale
	for _, v := range vals {
		q := math.Floor(float64(v*inv) + rng.Float64())
		body = append(body, byte(int8(min(127, max(-127, q)))))
	}
	return body, nil
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func crc64String(s string) uint64 {
	h := uint64(14695981039346656037) // FNV-1a
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var encoder = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		panic(err) // only with invalid options
	}
	return e
})

// DecodeUpdate decodes one update. A malformed input yields a *FieldError
// (wrapping ErrMalformed) naming the field, never a panic or an allocation
// much beyond what the input's declared sizes justify (at most
// MaxUpdateBytes).
func DecodeUpdate(data []byte) (*Update, error) {
	h := reader{buf: data}
	if len(data) < 8+1+4 {
		return nil, h.fail("header", "%d bytes, shorter than header and trailer", len(data))
	}
	if !bytes.Equal(data[:4], magic) {
		return nil, h.fail("magic", "%q, want %q", data[:4], magic)
	}
	h.pos = 4
	if v := data[4]; v != WireVersion {
		return nil, h.fail("version", "%d, this decoder reads %d", v, WireVersion)
	}
	h.pos = 5
	kind := Kind(data[5])
	if kind != KindWeights && kind != KindDelta {
		return nil, h.fail("kind", "%d unknown", data[5])
	}
	h.pos = 6
	q := Quantization(data[6])
	if q > Int8 {
		return nil, h.fail("quantization", "%d unknown", data[6])
	}
	h.pos = 7
	comp := data[7]
	if comp > 1 {
		return nil, h.fail("compression", "%d unknown", comp)
	}
	h.pos = 8
	h.buf = data[:len(data)-4]
	want := binary.LittleEndian.Uint32(data[len(data)-4:])
	if got := crc32.Checksum(h.buf, castagnoli); got != want {
		return nil, (&reader{pos: len(data) - 4}).fail("crc", "stored %08x, computed %08x", want, got)
	}
	bodyLen, err := h.uvarint("body length")
	if err != nil {
		return nil, err
	}
	if bodyLen > MaxUpdateBytes {
		return nil, h.fail("body length", "%d above %d", bodyLen, MaxUpdateBytes)
	}
	raw := h.buf[h.pos:]
	if comp == 0 {
		if uint64(len(raw)) != bodyLen {
			return nil, h.fail("body", "%d bytes, header says %d", len(raw), bodyLen)
		}
		return decodeBody(raw, kind, q)
	}
	// zstd: decode a prefix that holds every field before the values, check
	// that the layout's values fill the declared length exactly, and only
	// then decompress the rest. A small input cannot make the decoder inflate
	// more than its own layout declares.
	dec, err := zstd.NewReader(bytes.NewReader(raw), zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(max(bodyLen, 1<<16)),
		zstd.WithDecoderMaxWindow(max(min(bodyLen, 1<<30), zstd.MinWindowSize)))
	if err != nil {
		return nil, h.fail("body", "zstd: %v", err)
	}
	defer dec.Close()
	prefix := make([]byte, min(bodyLen, maxFieldsBytes))
	if _, err := io.ReadFull(dec, prefix); err != nil {
		return nil, h.fail("body", "zstd: %v", err)
	}
	u, r, need, err := decodeFields(prefix, kind, q)
	if err != nil {
		return nil, err
	}
	if total := uint64(r.pos + need); total != bodyLen {
		return nil, h.fail("body length", "%d, the fields and the layout's values need %d", bodyLen, total)
	}
	full := make([]byte, bodyLen)
	copy(full, prefix)
	if _, err := io.ReadFull(dec, full[len(prefix):]); err != nil {
		return nil, h.fail("body", "zstd: %v", err)
	}
	if n, _ := dec.Read(make([]byte, 1)); n > 0 {
		return nil, h.fail("body", "zstd: more than the declared %d bytes", bodyLen)
	}
	r.buf = full
	return u, decodeValues(u, r, q)
}

// maxFieldsBytes bounds the encoding of everything before the values (node,
// metrics and layout at their limits).
const maxFieldsBytes = 256 << 10

func decodeBody(body []byte, kind Kind, q Quantization) (*Update, error) {
	u, r, need, err := decodeFields(body, kind, q)
	if err != nil {
		return nil, err
	}
	if rest := len(body) - r.pos; rest != need {
		return nil, r.fail("values", "%d bytes, the layout needs %d as %v", rest, need, q)
	}
	return u, decodeValues(u, r, q)
}

// decodeFields reads everything before the values and returns the reader
// positioned at the values and their size in bytes.
func decodeFields(body []byte, kind Kind, q Quantization) (*Update, *reader, int, error) {
	r := &reader{buf: body}
	u := &Update{Kind: kind}
	var err error
	if u.Round, err = r.uvarint("round"); err != nil {
		return nil, r, 0, err
	}
	if u.Node, err = r.str("node"); err != nil {
		return nil, r, 0, err
	}
	if u.Examples, err = r.uvarint("examples"); err != nil {
		return nil, r, 0, err
	}
	n, err := r.count("metrics", MaxMetrics)
	if err != nil {
		return nil, r, 0, err
	}
	for i := range n {
		f := fmt.Sprintf("metrics[%d]", i)
		name, err := r.str(f + ".name")
		if err != nil {
			return nil, r, 0, err
		}
		if name == "" {
			return nil, r, 0, r.fail(f+".name", "empty")
		}
		b, err := r.bytes(8, f+".value")
		if err != nil {
			return nil, r, 0, err
		}
		u.Metrics = append(u.Metrics, Metric{Name: name, Value: math.Float64frombits(binary.LittleEndian.Uint64(b))})
	}
	if n, err = r.count("tensors", MaxTensors); err != nil {
		return nil, r, 0, err
	}
	if n == 0 {
		return nil, r, 0, r.fail("tensors", "none")
	}
	total := 0
	u.Layout = make(Layout, n)
	for i := range n {
		f := fmt.Sprintf("tensors[%d]", i)
		t := &u.Layout[i]
		if t.Name, err = r.str(f + ".name"); err != nil {
			return nil, r, 0, err
		}
		if t.Name == "" {
			return nil, r, 0, r.fail(f+".name", "empty")
		}
		rank, err := r.count(f+".rank", MaxRank)
		if err != nil {
			return nil, r, 0, err
		}
		size := 1
		t.Shape = make([]int, rank)
		for j := range rank {
			d, err := r.uvarint(fmt.Sprintf("%s.shape[%d]", f, j))
			if err != nil {
				return nil, r, 0, err
			}
			if d == 0 || d > MaxParameters {
				return nil, r, 0, r.fail(fmt.Sprintf("%s.shape[%d]", f, j), "%d not in [1,%d]", d, MaxParameters)
			}
			t.Shape[j] = int(d)
			size *= int(d)
			if size > MaxParameters {
				return nil, r, 0, r.fail(f+".shape", "more than %d values", MaxParameters)
			}
		}
		total += size
		if total > MaxParameters {
			return nil, r, 0, r.fail(f+".shape", "model above %d values", MaxParameters)
		}
	}
	if err := u.Layout.Validate(); err != nil { // repeated names
		return nil, r, 0, r.fail("tensors", "%v", err)
	}
	need := total * valueSize(q)
	if q == Int8 {
		need += 4 * n
	}
	return u, r, need, nil
}

// decodeValues reads the values that decodeFields sized; r holds exactly them.
func decodeValues(u *Update, r *reader, q Quantization) error {
	u.Params = make([]float32, 0, u.Layout.NumParams())
	for i, t := range u.Layout {
		size := t.Size()
		switch q {
		case Float32:
			b, _ := r.bytes(4*size, "values")
			for j := range size {
				u.Params = append(u.Params, math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:])))
			}
		case Float16:
			b, _ := r.bytes(2*size, "values")
			for j := range size {
				u.Params = append(u.Params, halfToFloat32(binary.LittleEndian.Uint16(b[2*j:])))
			}
		case Int8:
			b, _ := r.bytes(4, "values")
			scale := math.Float32frombits(binary.LittleEndian.Uint32(b))
			if !(scale >= 0) || math.IsInf(float64(scale), 0) {
				return r.fail(fmt.Sprintf("tensors[%d] (%s).scale", i, t.Name), "%v, want finite and ≥ 0", scale)
			}
			b, _ = r.bytes(size, "values")
			for _, q := range b {
				u.Params = append(u.Params, float32(int8(q))*scale)
			}
		}
	}
	return nil
}

type reader struct {
	buf []byte
	pos int
}

func (r *reader) fail(field, format string, args ...any) error {
	return &FieldError{Field: field, Offset: r.pos, Err: fmt.Errorf(format, args...)}
}

func (r *reader) uvarint(field string) (uint64, error) {
	v, n := binary.Uvarint(r.buf[r.pos:])
	if n <= 0 {
		if n == 0 {
			return 0, r.fail(field, "truncated")
		}
		return 0, r.fail(field, "varint overflows 64 bits")
	}
	r.pos += n
	return v, nil
}

func (r *reader) count(field string, limit int) (int, error) {
	v, err := r.uvarint(field)
	if err != nil {
		return 0, err
	}
	if v > uint64(limit) {
		return 0, r.fail(field, "%d above %d", v, limit)
	}
	return int(v), nil
}

func (r *reader) bytes(n int, field string) ([]byte, error) {
	if n > len(r.buf)-r.pos {
		return nil, r.fail(field, "truncated: need %d bytes, %d left", n, len(r.buf)-r.pos)
	}
	b := r.buf[r.pos : r.pos+n]
	r.pos += n
	return b, nil
}

func (r *reader) str(field string) (string, error) {
	n, err := r.count(field+" length", MaxNameLen)
	if err != nil {
		return "", err
	}
	b, err := r.bytes(n, field)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
