package tflite

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/edgeflow/edgeflow/internal/tflite/schema"
)

func TestLoadSynthetic(t *testing.T) {
	m, err := Load(fcModel().bytes())
	if err != nil {
		t.Fatal(err)
	}
	g := m.Main()
	if g.Name != "main" || len(g.Tensors) != 4 || len(g.Operators) != 1 {
		t.Fatalf("subgraph %q: %d tensors, %d operators", g.Name, len(g.Tensors), len(g.Operators))
	}
	op := g.Operators[0]
	if op.Op != "FULLY_CONNECTED" || op.Custom || !reflect.DeepEqual(op.Inputs, []int{0, 1, 2}) {
		t.Errorf("operator %+v", op)
	}
	if o, ok := op.Options.(*FullyConnectedOptions); !ok || o.Activation != ActRelu {
		t.Errorf("options %+v", op.Options)
	}
	in := g.InputTensors()[0]
	if !reflect.DeepEqual(in.ShapeSignature, []int{-1, 4}) || in.Data != nil {
		t.Errorf("input %s signature %v", in, in.ShapeSignature)
	}
	if w := g.Tensors[1]; len(w.Data) != 32 || w.Data[4] != 0 || w.Data[7] != 0x40 { // 2.0f = 0x40000000
		t.Errorf("weights data % x", w.Data)
	}
	want := []SignatureDef{{Key: "serving_default", Inputs: []TensorMap{{"x", 0}}, Outputs: []TensorMap{{"y", 3}}}}
	if !reflect.DeepEqual(m.SignatureDefs, want) {
		t.Errorf("signature defs %+v", m.SignatureDefs)
	}
}

func TestOperatorCodes(t *testing.T) {
	tests := []struct {
		name string
		code synthCode
		op   string
	}{
		{"deprecated field only (TOCO files)", synthCode{deprecated: 9}, "FULLY_CONNECTED"},
		{"both fields", synthCode{deprecated: 9, code: 9}, "FULLY_CONNECTED"},
		{"above 127: builtin_code only", synthCode{deprecated: 127, code: schema.BuiltinOperatorGELU}, "GELU"},
		{"unknown code", synthCode{code: 4000}, "BUILTIN_4000"},
		{"custom", synthCode{deprecated: 32, code: 32, custom: "MyOp"}, "MyOp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := fcModel()
			s.codes[0] = tc.code
			s.ops[0].options = nil
			m, err := Load(s.bytes())
			if err != nil {
				t.Fatal(err)
			}
			op := m.Main().Operators[0]
			if op.Op != tc.op {
				t.Errorf("op %q, want %q", op.Op, tc.op)
			}
			if IsSupported(op.Op) != (tc.op == "FULLY_CONNECTED") {
				t.Errorf("IsSupported(%q) = %v", op.Op, IsSupported(op.Op))
			}
		})
	}
}

func TestLargeModelBuffers(t *testing.T) {
	// Data stored after the flatbuffer, found through Buffer.offset and size.
	build := func(off, size uint64) []byte {
		s := fcModel()
		s.buffers[1] = synthBuffer{offset: off, size: size}
		s.tail = make([]byte, 64)
		for i := range s.tail {
			s.tail[i] = byte(i)
		}
		return s.bytes()
	}
	n := uint64(len(build(2, 32)) - 64) // the flatbuffer's length does not depend on the values
	m, err := Load(build(n+16, 32))
	if err != nil {
		t.Fatal(err)
	}
	if d := m.Main().Tensors[1].Data; len(d) != 32 || d[0] != 16 || d[31] != 47 {
		t.Errorf("weights % x", d)
	}
	_, err = Load(build(n+40, 32))
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "buffers[1]") {
		t.Errorf("buffer past the end: %v", err)
	}
}

func TestDetectionOptionsSynthetic(t *testing.T) {
	full := map[string]any{"max_detections": 10, "max_classes_per_detection": 1, "detections_per_class": 5,
		"use_regular_nms": true, "nms_score_threshold": 0.3, "nms_iou_threshold": 0.5, "num_classes": 3,
		"y_scale": 10.0, "x_scale": 10.0, "h_scale": 5.0, "w_scale": 5.0}
	without := func(key string) map[string]any {
		m := map[string]any{}
		for k, v := range full {
			if k != key {
				m[k] = v
			}
		}
		return m
	}
	with := func(key string, v any) map[string]any {
		m := without(key)
		m[key] = v
		return m
	}
	tests := []struct {
		name    string
		options map[string]any
		want    *DetectionPostProcessOptions
		err     string
	}{
		{name: "all keys", options: full, want: &DetectionPostProcessOptions{MaxDetections: 10, MaxClassesPerDetection: 1,
			DetectionsPerClass: 5, UseRegularNMS: true, NMSScoreThreshold: 0.3, NMSIoUThreshold: 0.5, NumClasses: 3,
			YScale: 10, XScale: 10, HScale: 5, WScale: 5}},
		{name: "defaults", options: without("detections_per_class"), want: &DetectionPostProcessOptions{MaxDetections: 10,
			MaxClassesPerDetection: 1, DetectionsPerClass: 100, UseRegularNMS: true, NMSScoreThreshold: 0.3,
			NMSIoUThreshold: 0.5, NumClasses: 3, YScale: 10, XScale: 10, HScale: 5, WScale: 5}},
		{name: "missing num_classes", options: without("num_classes"), err: "num_classes is missing"},
		{name: "zero detections", options: with("max_detections", 0), err: "max_detections is 0"},
		{name: "huge num_classes", options: with("num_classes", int64(1)<<40), err: "num_classes is"},
		{name: "iou above 1", options: with("nms_iou_threshold", 1.5), err: "nms_iou_threshold is 1.5"},
		{name: "zero scale", options: with("h_scale", 0.0), err: "h_scale is 0"},
		{name: "more classes per detection than classes", options: with("max_classes_per_detection", 4), err: "exceeds num_classes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := fcModel()
			s.codes = append(s.codes, synthCode{deprecated: 32, code: 32, custom: DetectionPostProcess})
			s.ops = append(s.ops, synthOp{opcode: 1, inputs: []int32{3, 3, 3}, outputs: []int32{3}, custom: encodeFlexMap(tc.options)})
			m, err := Load(s.bytes())
			if tc.err != "" {
				if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.err) ||
					!strings.Contains(err.Error(), "operators[1] (TFLite_Detection_PostProcess).custom_options") {
					t.Fatalf("error %v, want ErrMalformed with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Main().Operators[1].Options; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("options %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestLoadMalformed: each case breaks a valid model in one place; Load must
// fail with the right error that names that place.
func TestLoadMalformed(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(s *synthModel)
		raw   func(b []byte) []byte
		is    error
		where string
	}{
		{name: "empty file", raw: func([]byte) []byte { return nil }, is: ErrMalformed, where: "file"},
		{name: "not a model", raw: func(b []byte) []byte { return []byte("GIF89a, certainly not a model") }, is: ErrMalformed, where: "file identifier"},
		{name: "root offset past the end", raw: func(b []byte) []byte { b[0], b[1], b[2], b[3] = 0xff, 0xff, 0xff, 0x7f; return b }, is: ErrMalformed, where: "model"},
		{name: "truncated by half", raw: func(b []byte) []byte { return b[:len(b)/2] }, is: ErrMalformed},
		{name: "schema version 2", edit: func(s *synthModel) { s.version = 2 }, is: ErrMalformed, where: "model.version"},
		{name: "opcode index out of range", edit: func(s *synthModel) { s.ops[0].opcode = 7 }, is: ErrMalformed, where: "subgraphs[0].operators[0].opcode_index"},
		{name: "operator input out of range", edit: func(s *synthModel) { s.ops[0].inputs[2] = 4 }, is: ErrMalformed, where: "subgraphs[0].operators[0] (FULLY_CONNECTED).inputs[2]"},
		{name: "operator input below -1", edit: func(s *synthModel) { s.ops[0].inputs[0] = -2 }, is: ErrMalformed, where: ".inputs[0]"},
		{name: "subgraph output -1", edit: func(s *synthModel) { s.outputs[0] = -1 }, is: ErrMalformed, where: "subgraphs[0].outputs[0]"},
		{name: "buffer index out of range", edit: func(s *synthModel) { s.tensors[1].buffer = 9 }, is: ErrMalformed, where: "subgraphs[0].tensors[1].buffer"},
		{name: "negative dimension", edit: func(s *synthModel) { s.tensors[3].shape[1] = -2 }, is: ErrMalformed, where: "subgraphs[0].tensors[3].shape[1]"},
		{name: "absurd shape", edit: func(s *synthModel) { s.tensors[3].shape = []int32{1 << 30, 1 << 30, 16} }, is: ErrTooLarge, where: "subgraphs[0].tensors[3].shape"},
		{name: "rank 17", edit: func(s *synthModel) { s.tensors[3].shape = make([]int32, 17) }, is: ErrTooLarge, where: "subgraphs[0].tensors[3].shape"},
		{name: "data shorter than shape", edit: func(s *synthModel) { s.tensors[1].shape = []int32{3, 4} }, is: ErrMalformed, where: "subgraphs[0].tensors[1]"},
		{name: "unknown tensor type", edit: func(s *synthModel) { s.tensors[0].typ = 99 }, is: ErrMalformed, where: "subgraphs[0].tensors[0].type"},
		{name: "scales without zero points", edit: func(s *synthModel) { s.tensors[0].scales = []float32{0.5} }, is: ErrMalformed, where: "subgraphs[0].tensors[0].quantization"},
		{name: "per-channel scales for the wrong dimension", edit: func(s *synthModel) {
			s.tensors[1].scales, s.tensors[1].zps, s.tensors[1].qdim = []float32{1, 2}, []int64{0, 0}, 1
		}, is: ErrMalformed, where: "subgraphs[0].tensors[1].quantization"},
		{name: "quantized dimension out of range", edit: func(s *synthModel) {
			s.tensors[1].scales, s.tensors[1].zps, s.tensors[1].qdim = []float32{1, 2}, []int64{0, 0}, 5
		}, is: ErrMalformed, where: "quantized_dimension"},
		{name: "options of another operator", edit: func(s *synthModel) {
			s.ops[0].optType = schema.BuiltinOptionsConv2DOptions
			s.ops[0].options = func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
				schema.Conv2DOptionsStart(b)
				schema.Conv2DOptionsAddStrideW(b, 1)
				return schema.Conv2DOptionsEnd(b)
			}
		}, is: ErrMalformed, where: "builtin_options"},
		{name: "zero stride", edit: func(s *synthModel) {
			s.codes[0] = synthCode{deprecated: int8(schema.BuiltinOperatorCONV_2D)}
			s.ops[0].optType = schema.BuiltinOptionsConv2DOptions
			s.ops[0].options = func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
				schema.Conv2DOptionsStart(b)
				schema.Conv2DOptionsAddStrideW(b, 1)
				return schema.Conv2DOptionsEnd(b) // stride_h absent: 0
			}
		}, is: ErrMalformed, where: "builtin_options.stride_h"},
		{name: "unknown activation", edit: func(s *synthModel) {
			s.ops[0].options = func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
				schema.FullyConnectedOptionsStart(b)
				schema.FullyConnectedOptionsAddFusedActivationFunction(b, 42)
				return schema.FullyConnectedOptionsEnd(b)
			}
		}, is: ErrMalformed, where: "fused_activation_function"},
		{name: "signature tensor out of range", edit: func(s *synthModel) { s.sigs[0].outTensor[0] = 4 }, is: ErrMalformed, where: "signature_defs[0].outputs[0].tensor_index"},
		{name: "signature subgraph out of range", edit: func(s *synthModel) { s.sigs[0].subgraph = 1 }, is: ErrMalformed, where: "signature_defs[0].subgraph_index"},
		{name: "custom operator without code", edit: func(s *synthModel) { s.codes[0] = synthCode{deprecated: 32} }, is: ErrMalformed, where: "operator_codes[0]"},
		{name: "one tensor table shared 300k times", edit: func(s *synthModel) {
			s.tensors[0].name = strings.Repeat("n", 4000)
			s.repeatTensors = 300_000
			s.ops, s.inputs, s.outputs = nil, nil, nil
		}, is: ErrTooLarge, where: "subgraphs[0].tensors"},
		{name: "large custom options past the end", edit: func(s *synthModel) {
			s.codes = append(s.codes, synthCode{deprecated: 32, custom: "MyOp"})
			s.ops = append(s.ops, synthOp{opcode: 1, outputs: []int32{3}, largeOff: 1 << 20, largeSize: 8})
		}, is: ErrMalformed, where: "operators[1] (MyOp).large_custom_options_offset"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := fcModel()
			if tc.edit != nil {
				tc.edit(s)
			}
			b := s.bytes()
			if tc.raw != nil {
				b = tc.raw(b)
			}
			m, err := Load(b)
			if err == nil {
				t.Fatalf("loaded %+v, want an error", m)
			}
			if !errors.Is(err, tc.is) || errors.Is(err, errUnchecked) || !strings.Contains(err.Error(), tc.where) {
				t.Fatalf("error %q, want %v at %q", err, tc.is, tc.where)
			}
		})
	}
}

// TestTruncatedRealModels loads every prefix length of a small real model and
// a sample of prefixes of a large one: errors, never a panic.
func TestTruncatedRealModels(t *testing.T) {
	for _, path := range []string{
		goTFLiteModel("v1.0.10", "testdata/xor_model_sig.tflite")(t),
		goTFLiteModel("v1.0.1", "_example/ssd/detect.tflite")(t),
	} {
		data := readFile(t, path)
		step := 1 + len(data)/3000
		for n := 0; n < len(data); n += step {
			if _, err := Load(data[:n]); err == nil || errors.Is(err, errUnchecked) {
				t.Fatalf("%s cut at %d bytes: %v", path, n, err)
			}
		}
	}
}
