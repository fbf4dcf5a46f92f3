package tflite

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// Typed access to a tensor's Data. An interpreter's tensors are aligned, so
// the accessors return views of its memory: writing an input's Float32s sets
// the input. A loaded model's constant tensors may be unaligned in the file;
// then the accessors return a copy.

// Float32s returns the data of a float32 tensor, nil for another type or
// missing data.
func (t *Tensor) Float32s() []float32 {
	if t.Type != Float32 {
		return nil
	}
	return view[float32](t.Data, t.NumElements(), 4, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) })
}

// Int32s returns the data of an int32 tensor, nil for another type or
// missing data.
func (t *Tensor) Int32s() []int32 {
	if t.Type != Int32 {
		return nil
	}
	return view[int32](t.Data, t.NumElements(), 4, func(b []byte) int32 { return int32(binary.LittleEndian.Uint32(b)) })
}

// Int64s returns the data of an int64 tensor, nil for another type or
// missing data.
func (t *Tensor) Int64s() []int64 {
	if t.Type != Int64 {
		return nil
	}
	return view[int64](t.Data, t.NumElements(), 8, func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) })
}

// UInt8s returns the data of a uint8 tensor, nil for another type or missing
// data.
func (t *Tensor) UInt8s() []uint8 {
	if t.Type != Uint8 || len(t.Data) < t.NumElements() {
		return nil
	}
	return t.Data[:t.NumElements()]
}

// Int8s returns the data of an int8 tensor, nil for another type or missing
// data.
func (t *Tensor) Int8s() []int8 {
	if t.Type != Int8 || len(t.Data) < t.NumElements() {
		return nil
	}
	n := t.NumElements()
	if n == 0 {
		return []int8{}
	}
	return unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(t.Data))), n)
}

// ScaleZeroPoint returns the per-tensor quantization of t; ok is false when t
// is not quantized or quantized per channel.
func (t *Tensor) ScaleZeroPoint() (scale float32, zeroPoint int32, ok bool) {
	q := t.Quantization
	if q == nil || len(q.Scales) != 1 {
		return 0, 0, false
	}
	return q.Scales[0], int32(q.ZeroPoints[0]), true
}

// view reinterprets data as n little-endian elements of size bytes when it is
// aligned (and the machine is little-endian), else decodes a copy.
func view[T any](data []byte, n, size int, decode func([]byte) T) []T {
	if len(data) < n*size {
		return nil
	}
	if n == 0 {
		return []T{}
	}
	p := unsafe.Pointer(unsafe.SliceData(data))
	if uintptr(p)%uintptr(size) == 0 && littleEndian {
		return unsafe.Slice((*T)(p), n)
	}
	out := make([]T, n)
	for i := range out {
		out[i] = decode(data[i*size:])
	}
	return out
}

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()
