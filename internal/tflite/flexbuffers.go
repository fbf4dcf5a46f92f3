package tflite

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// A reader for the subset of FlexBuffers (the schema-less sibling of
// FlatBuffers, used for custom operators' options) that TensorFlow Lite's
// custom operators need: a root map of scalar values. The flatbuffers Go module
// has no FlexBuffers reader; this one follows the format description in
// flatbuffers' docs/source/flexbuffers.md and its C++ reader (flexbuffers.h),
// and checks every read against the buffer, so hostile options yield errors.

// FlexBuffers value types used here (flexbuffers.h, enum Type).
const (
	flexNull          = 0
	flexInt           = 1
	flexUint          = 2
	flexFloat         = 3
	flexKey           = 4
	flexIndirectInt   = 6
	flexIndirectUint  = 7
	flexIndirectFloat = 8
	flexMap           = 9
	flexBool          = 26
)

// maxFlexMapSize bounds the number of entries of a map this reader accepts.
const maxFlexMapSize = 1 << 12

// flexRef is a reference to one FlexBuffers value.
type flexRef struct {
	b           []byte
	at          uint64 // position of the value (inline) or of its offset
	parentWidth uint64 // byte width of the slot at `at`
	packed      byte   // type<<2 | log2(own byte width)
}

func (r flexRef) typ() int      { return int(r.packed >> 2) }
func (r flexRef) width() uint64 { return 1 << (r.packed & 3) }
func flexWidthOK(w uint64) bool { return w == 1 || w == 2 || w == 4 || w == 8 }
func flexErr(format string, args ...any) error {
	return fmt.Errorf("flexbuffers: %s: %w", fmt.Sprintf(format, args...), ErrMalformed)
}

// readUint reads an unsigned integer of width bytes at at.
func flexUintAt(b []byte, at, width uint64) (uint64, error) {
	if at > uint64(len(b)) || width > uint64(len(b))-at {
		return 0, flexErr("%d-byte value at %d lies outside the %d-byte buffer", width, at, len(b))
	}
	switch width {
	case 1:
		return uint64(b[at]), nil
	case 2:
		return uint64(binary.LittleEndian.Uint16(b[at:])), nil
	case 4:
		return uint64(binary.LittleEndian.Uint32(b[at:])), nil
	case 8:
		return binary.LittleEndian.Uint64(b[at:]), nil
	}
	return 0, flexErr("byte width %d", width)
}

func flexIntAt(b []byte, at, width uint64) (int64, error) {
	u, err := flexUintAt(b, at, width)
	if err != nil {
		return 0, err
	}
	shift := 64 - 8*width
	return int64(u<<shift) >> shift, nil
}

// flexRoot returns the root value of a FlexBuffers buffer.
func flexRoot(b []byte) (flexRef, error) {
	if len(b) < 3 {
		return flexRef{}, flexErr("%d bytes is too short", len(b))
	}
	n := uint64(len(b))
	w := uint64(b[n-1])
	if !flexWidthOK(w) || w+2 > n {
		return flexRef{}, flexErr("root byte width %d in a %d-byte buffer", w, n)
	}
	return flexRef{b: b, at: n - 2 - w, parentWidth: w, packed: b[n-2]}, nil
}

// indirect follows the offset stored at r.at back to the value it points to.
func (r flexRef) indirect() (uint64, error) {
	off, err := flexUintAt(r.b, r.at, r.parentWidth)
	if err != nil {
		return 0, err
	}
	if off > r.at {
		return 0, flexErr("offset %d at %d points before the buffer", off, r.at)
	}
	return r.at - off, nil
}

// flexMapping is a checked FlexBuffers map.
type flexMapping struct {
	b              []byte
	values, keys   uint64 // positions of the value slots and the key offsets
	width, keyWide uint64 // byte widths of value slots and key offsets
	size           uint64
}

func (r flexRef) asMap() (flexMapping, error) {
	if r.typ() != flexMap {
		return flexMapping{}, flexErr("value has type %d, want a map", r.typ())
	}
	data, err := r.indirect()
	if err != nil {
		return flexMapping{}, err
	}
	w := r.width()
	if data < 3*w {
		return flexMapping{}, flexErr("map at %d has no room for its header", data)
	}
	size, err := flexUintAt(r.b, data-w, w)
	if err != nil {
		return flexMapping{}, err
	}
	if size > maxFlexMapSize {
		return flexMapping{}, flexErr("map of %d entries, the limit is %d", size, maxFlexMapSize)
	}
	// Value slots, then one packed type byte per value.
	if end := data + size*w + size; end > uint64(len(r.b)) {
		return flexMapping{}, flexErr("map of %d entries at %d runs past the end of the buffer", size, data)
	}
	keysField := flexRef{b: r.b, at: data - 3*w, parentWidth: w}
	keys, err := keysField.indirect()
	if err != nil {
		return flexMapping{}, err
	}
	kw, err := flexUintAt(r.b, data-2*w, w)
	if err != nil {
		return flexMapping{}, err
	}
	if !flexWidthOK(kw) || keys < kw {
		return flexMapping{}, flexErr("map keys with byte width %d at %d", kw, keys)
	}
	nkeys, err := flexUintAt(r.b, keys-kw, kw)
	if err != nil {
		return flexMapping{}, err
	}
	if nkeys != size {
		return flexMapping{}, flexErr("map has %d keys for %d values", nkeys, size)
	}
	if keys+size*kw > uint64(len(r.b)) {
		return flexMapping{}, flexErr("map keys run past the end of the buffer")
	}
	return flexMapping{b: r.b, values: data, keys: keys, width: w, keyWide: kw, size: size}, nil
}

// key returns the i-th key of the map (a NUL-terminated string).
func (m flexMapping) key(i uint64) ([]byte, error) {
	at := m.keys + i*m.keyWide
	start, err := flexRef{b: m.b, at: at, parentWidth: m.keyWide}.indirect()
	if err != nil {
		return nil, err
	}
	end := bytes.IndexByte(m.b[start:], 0)
	if end < 0 {
		return nil, flexErr("key at %d has no terminating NUL", start)
	}
	return m.b[start : start+uint64(end)], nil
}

// get returns the value stored under key.
func (m flexMapping) get(key string) (flexRef, bool, error) {
	for i := uint64(0); i < m.size; i++ {
		k, err := m.key(i)
		if err != nil {
			return flexRef{}, false, err
		}
		if string(k) == key {
			return flexRef{b: m.b, at: m.values + i*m.width, parentWidth: m.width, packed: m.b[m.values+m.size*m.width+i]}, true, nil
		}
	}
	return flexRef{}, false, nil
}

// number reads a scalar value as float64 (ints, uints, floats, bools, null).
func (r flexRef) number() (float64, error) {
	at, width := r.at, r.parentWidth
	switch r.typ() {
	case flexIndirectInt, flexIndirectUint, flexIndirectFloat:
		target, err := r.indirect()
		if err != nil {
			return 0, err
		}
		at, width = target, r.width()
	}
	switch r.typ() {
	case flexNull:
		return 0, nil
	case flexInt, flexIndirectInt:
		v, err := flexIntAt(r.b, at, width)
		return float64(v), err
	case flexUint, flexIndirectUint, flexBool:
		v, err := flexUintAt(r.b, at, width)
		return float64(v), err
	case flexFloat, flexIndirectFloat:
		v, err := flexUintAt(r.b, at, width)
		switch {
		case err != nil:
			return 0, err
		case width == 4:
			return float64(math.Float32frombits(uint32(v))), nil
		case width == 8:
			return math.Float64frombits(v), nil
		}
		return 0, flexErr("float of %d bytes", width)
	}
	return 0, flexErr("value of type %d is not a number", r.typ())
}

// flexNumbers decodes a root map's scalar entries named in keys. Absent keys
// are absent from the result.
func flexNumbers(b []byte, keys []string) (map[string]float64, error) {
	root, err := flexRoot(b)
	if err != nil {
		return nil, err
	}
	m, err := root.asMap()
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(keys))
	for _, k := range keys {
		v, ok, err := m.get(k)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if out[k], err = v.number(); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	return out, nil
}

// Limits on TFLite_Detection_PostProcess options, far above SSD's (10
// detections, 90 classes) and small enough that an interpreter can allocate
// its outputs from them.
const (
	maxDetections = 1 << 16
	maxClasses    = 1 << 16
)

// decodeDetectionOptions decodes TFLite_Detection_PostProcess's options the way
// TensorFlow Lite's kernel does (detection_postprocess.cc, Init): every key is
// required except detections_per_class (default 100) and use_regular_nms
// (default false).
func decodeDetectionOptions(b []byte) (*DetectionPostProcessOptions, error) {
	keys := []string{"max_detections", "max_classes_per_detection", "detections_per_class",
		"use_regular_nms", "nms_score_threshold", "nms_iou_threshold", "num_classes",
		"y_scale", "x_scale", "h_scale", "w_scale"}
	v, err := flexNumbers(b, keys)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if _, ok := v[k]; !ok && k != "detections_per_class" && k != "use_regular_nms" {
			return nil, flexErr("%s is missing", k)
		}
	}
	if _, ok := v["detections_per_class"]; !ok {
		v["detections_per_class"] = 100
	}
	count := func(k string, max int) (int, error) {
		x := v[k]
		if !(x >= 1 && x <= float64(max)) {
			return 0, flexErr("%s is %g, want 1..%d", k, x, max)
		}
		return int(x), nil
	}
	within := func(k string, lo, hi float64) (float32, error) {
		x := v[k]
		if !(x >= lo && x <= hi) {
			return 0, flexErr("%s is %g, want %g..%g", k, x, lo, hi)
		}
		return float32(x), nil
	}
	o := &DetectionPostProcessOptions{UseRegularNMS: v["use_regular_nms"] != 0}
	var errs [10]error
	o.MaxDetections, errs[0] = count("max_detections", maxDetections)
	o.NumClasses, errs[1] = count("num_classes", maxClasses)
	o.MaxClassesPerDetection, errs[2] = count("max_classes_per_detection", maxClasses)
	o.DetectionsPerClass, errs[3] = count("detections_per_class", maxDetections)
	o.NMSScoreThreshold, errs[4] = within("nms_score_threshold", -math.MaxFloat32, math.MaxFloat32)
	o.NMSIoUThreshold, errs[5] = within("nms_iou_threshold", 0, 1)
	o.YScale, errs[6] = within("y_scale", math.SmallestNonzeroFloat32, math.MaxFloat32)
	o.XScale, errs[7] = within("x_scale", math.SmallestNonzeroFloat32, math.MaxFloat32)
	o.HScale, errs[8] = within("h_scale", math.SmallestNonzeroFloat32, math.MaxFloat32)
	o.WScale, errs[9] = within("w_scale", math.SmallestNonzeroFloat32, math.MaxFloat32)
	if err := firstErr(errs[:]...); err != nil {
		return nil, err
	}
	if o.MaxClassesPerDetection > o.NumClasses {
		return nil, flexErr("max_classes_per_detection %d exceeds num_classes %d", o.MaxClassesPerDetection, o.NumClasses)
	}
	return o, nil
}
