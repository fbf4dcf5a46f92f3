package tflite

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unsafe"

	"github.com/edgeflow/edgeflow/internal/testenv"
)

// Real models: from github.com/mattn/go-tflite's module (through the Go module
// cache) and from ../shared/models/coral. The expectations below were written
// from `flatc -t --strict-json --raw-binary schema.fbs -- MODEL` dumps of each
// file (flatc 2.0.8, Debian), not from this package's output; flatc prints
// floats with 6 decimals, hence the tolerance on scales.

func goTFLiteModel(version, rel string) func(t testing.TB) string {
	return func(t testing.TB) string {
		return filepath.Join(testenv.GoModuleDir(t, "github.com/mattn/go-tflite@"+version), filepath.FromSlash(rel))
	}
}

func coralModel(name string) func(t testing.TB) string {
	return func(t testing.TB) string { return testenv.SharedFile(t, "models/coral/"+name) }
}

type wantTensor struct {
	index int
	name  string
	typ   TensorType
	shape []int
	scale float64 // 0: not quantized
	zero  int64
}

type realModel struct {
	name               string
	path               func(t testing.TB) string
	description        string
	tensors, operators int
	ops                []OpCount
	inputs, outputs    []wantTensor
	unsupported        []string
	signatures         []string // signature keys
	metadata           []string // metadata names
}

var realModels = []realModel{
	{
		name: "ssd_mobilenet_v1_quant", path: goTFLiteModel("v1.0.1", "_example/ssd/detect.tflite"),
		description: "TOCO Converted.", tensors: 176, operators: 64,
		ops: []OpCount{{"CONV_2D", 34}, {"DEPTHWISE_CONV_2D", 13}, {"RESHAPE", 13}, {"CONCATENATION", 2},
			{"LOGISTIC", 1}, {"TFLite_Detection_PostProcess", 1}},
		inputs: []wantTensor{{175, "normalized_input_image_tensor", Uint8, []int{1, 300, 300, 3}, 0.0078125, 128}},
		outputs: []wantTensor{
			{167, "TFLite_Detection_PostProcess", Float32, []int{}, 0, 0},
			{168, "TFLite_Detection_PostProcess:1", Float32, []int{}, 0, 0},
			{169, "TFLite_Detection_PostProcess:2", Float32, []int{}, 0, 0},
			{170, "TFLite_Detection_PostProcess:3", Float32, []int{}, 0, 0},
		},
	},
	{
		name: "mobilenet_quant_v1_224", path: goTFLiteModel("v1.0.1", "_example/label_image/mobilenet_quant_v1_224.tflite"),
		description: "TOCO Converted.", tensors: 89, operators: 31,
		ops:     []OpCount{{"CONV_2D", 15}, {"DEPTHWISE_CONV_2D", 13}, {"AVERAGE_POOL_2D", 1}, {"RESHAPE", 1}, {"SOFTMAX", 1}},
		inputs:  []wantTensor{{88, "Placeholder", Uint8, []int{1, 224, 224, 3}, 0.003922, 0}},
		outputs: []wantTensor{{87, "MobilenetV1/Predictions/Softmax", Uint8, []int{1, 1001}, 0.003906, 0}},
	},
	{
		name: "mnist", path: goTFLiteModel("v1.0.1", "_example/mnist/mnist_model.tflite"),
		description: "TOCO Converted.", tensors: 11, operators: 4,
		ops:     []OpCount{{"FULLY_CONNECTED", 3}, {"SOFTMAX", 1}},
		inputs:  []wantTensor{{10, "dense_input", Float32, []int{1, 784}, 0, 0}},
		outputs: []wantTensor{{2, "activation_2/Softmax", Float32, []int{1, 10}, 0, 0}},
	},
	{
		name: "deeplabv3", path: goTFLiteModel("v1.0.1", "_example/segment/deeplabv3_257_mv_gpu.tflite"),
		description: "TOCO Converted.", tensors: 184, operators: 70,
		ops: []OpCount{{"CONV_2D", 38}, {"DEPTHWISE_CONV_2D", 17}, {"ADD", 10}, {"AVERAGE_POOL_2D", 1},
			{"RESIZE_BILINEAR", 3}, {"CONCATENATION", 1}},
		inputs:      []wantTensor{{183, "sub_7", Float32, []int{1, 257, 257, 3}, 0, 0}},
		outputs:     []wantTensor{{168, "ResizeBilinear_3", Float32, []int{1, 257, 257, 21}, 0, 0}},
		unsupported: []string{"RESIZE_BILINEAR"},
	},
	{
		name: "xor_with_signature", path: goTFLiteModel("v1.0.10", "testdata/xor_model_sig.tflite"),
		description: "MLIR Converted.", tensors: 9, operators: 4,
		ops:        []OpCount{{"FULLY_CONNECTED", 2}, {"TANH", 1}, {"LOGISTIC", 1}},
		inputs:     []wantTensor{{0, "serving_default_keras_tensor:0", Float32, []int{1, 2}, 0, 0}},
		outputs:    []wantTensor{{8, "StatefulPartitionedCall_1:0", Float32, []int{1, 1}, 0, 0}},
		signatures: []string{"serving_default"},
		metadata:   []string{"min_runtime_version", "CONVERSION_METADATA"},
	},
	{
		name: "iris", path: goTFLiteModel("v1.0.10", "_example/iris/iris.tflite"),
		description: "MLIR Converted.", tensors: 8, operators: 3,
		ops:      []OpCount{{"FULLY_CONNECTED", 2}, {"SOFTMAX", 1}},
		inputs:   []wantTensor{{0, "dense_input", Float32, []int{1, 4}, 0, 0}},
		outputs:  []wantTensor{{7, "Identity", Float32, []int{1, 3}, 0, 0}},
		metadata: []string{"min_runtime_version"},
	},
	{
		name: "sin", path: goTFLiteModel("v1.0.10", "_example/sin/sin_model.tflite"),
		description: "MLIR Converted.", tensors: 12, operators: 5,
		ops:      []OpCount{{"FULLY_CONNECTED", 3}, {"LOGISTIC", 2}},
		inputs:   []wantTensor{{0, "dense_input", Float32, []int{1, 1}, 0, 0}},
		outputs:  []wantTensor{{11, "Identity", Float32, []int{1, 1}, 0, 0}},
		metadata: []string{"min_runtime_version", "CONVERSION_METADATA"},
	},
	{
		name: "coral_mobilenet_v1_0.25_128_quant", path: coralModel("mobilenet_v1_0.25_128_quant.tflite"),
		description: "MLIR Converted.", tensors: 89, operators: 31,
		ops:      []OpCount{{"CONV_2D", 15}, {"DEPTHWISE_CONV_2D", 13}, {"AVERAGE_POOL_2D", 1}, {"RESHAPE", 1}, {"SOFTMAX", 1}},
		inputs:   []wantTensor{{0, "input", Uint8, []int{1, 128, 128, 3}, 0.0078125, 128}},
		outputs:  []wantTensor{{88, "MobilenetV1/Predictions/Reshape_1", Uint8, []int{1, 1001}, 0.003906, 0}},
		metadata: []string{"min_runtime_version", "TFLITE_METADATA"},
	},
	{
		name: "coral_mobilenet_v2_1.0_224_quant", path: coralModel("mobilenet_v2_1.0_224_quant.tflite"),
		description: "MLIR Converted.", tensors: 174, operators: 66,
		ops: []OpCount{{"CONV_2D", 36}, {"DEPTHWISE_CONV_2D", 17}, {"ADD", 10}, {"AVERAGE_POOL_2D", 1},
			{"RESHAPE", 1}, {"SOFTMAX", 1}},
		inputs:   []wantTensor{{0, "input", Uint8, []int{1, 224, 224, 3}, 0.0078125, 128}},
		outputs:  []wantTensor{{173, "MobilenetV2/Predictions/Softmax", Uint8, []int{1, 1001}, 0.003906, 0}},
		metadata: []string{"min_runtime_version", "TFLITE_METADATA"},
	},
	{
		name: "coral_tf2_mobilenet_v2_1.0_224_ptq", path: coralModel("tf2_mobilenet_v2_1.0_224_ptq.tflite"),
		description: "MLIR Converted.", tensors: 177, operators: 68,
		ops: []OpCount{{"QUANTIZE", 2}, {"CONV_2D", 36}, {"DEPTHWISE_CONV_2D", 17}, {"ADD", 10}, {"MEAN", 1},
			{"RESHAPE", 1}, {"SOFTMAX", 1}},
		inputs:   []wantTensor{{0, "input", Uint8, []int{1, 224, 224, 3}, 0.007843, 127}},
		outputs:  []wantTensor{{176, "Identity", Uint8, []int{1, 1001}, 0.003906, 0}},
		metadata: []string{"min_runtime_version", "TFLITE_METADATA"},
	},
}

func TestLoadRealModels(t *testing.T) {
	for _, tc := range realModels {
		t.Run(tc.name, func(t *testing.T) {
			m, err := LoadFile(tc.path(t))
			if err != nil {
				t.Fatal(err)
			}
			if m.Version != 3 || m.Description != tc.description {
				t.Errorf("version %d, description %q; want 3, %q", m.Version, m.Description, tc.description)
			}
			g := m.Main()
			if len(g.Tensors) != tc.tensors || len(g.Operators) != tc.operators {
				t.Errorf("%d tensors, %d operators; want %d, %d", len(g.Tensors), len(g.Operators), tc.tensors, tc.operators)
			}
			if got := m.Ops(); !reflect.DeepEqual(got, tc.ops) {
				t.Errorf("Ops() = %v\nwant %v", got, tc.ops)
			}
			checkTensors(t, "input", g, g.Inputs, tc.inputs)
			checkTensors(t, "output", g, g.Outputs, tc.outputs)
			if got := m.UnsupportedOps(); !reflect.DeepEqual(got, tc.unsupported) {
				t.Errorf("UnsupportedOps() = %v, want %v", got, tc.unsupported)
			}
			if err := m.CheckSupported(); (err != nil) != (tc.unsupported != nil) || (err != nil && !errors.Is(err, ErrUnsupportedOps)) {
				t.Errorf("CheckSupported() = %v", err)
			}
			var keys, names []string
			for _, sd := range m.SignatureDefs {
				keys = append(keys, sd.Key)
			}
			for _, md := range m.Metadata {
				names = append(names, md.Name)
			}
			if !reflect.DeepEqual(keys, tc.signatures) || !reflect.DeepEqual(names, tc.metadata) {
				t.Errorf("signatures %q, metadata %q; want %q, %q", keys, names, tc.signatures, tc.metadata)
			}
			checkInvariants(t, m)
		})
	}
}

func checkTensors(t *testing.T, kind string, g *Subgraph, got []int, want []wantTensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%ss %v, want %d", kind, got, len(want))
	}
	for i, w := range want {
		if got[i] != w.index {
			t.Errorf("%s %d is tensor %d, want %d", kind, i, got[i], w.index)
			continue
		}
		tt := &g.Tensors[got[i]]
		if tt.Name != w.name || tt.Type != w.typ || !reflect.DeepEqual(tt.Shape, w.shape) {
			t.Errorf("%s %d: %q %s %v, want %q %s %v", kind, i, tt.Name, tt.Type, tt.Shape, w.name, w.typ, w.shape)
		}
		q := tt.Quantization
		switch {
		case w.scale == 0 && q != nil:
			t.Errorf("%s %d: quantization %+v, want none", kind, i, q)
		case w.scale != 0 && (q == nil || len(q.Scales) != 1):
			t.Errorf("%s %d: quantization %+v, want one scale %g", kind, i, q, w.scale)
		case w.scale != 0 && (math.Abs(float64(q.Scales[0])-w.scale) > 1e-6 || q.ZeroPoints[0] != w.zero):
			t.Errorf("%s %d: quantization (%g, %d), want (%g, %d)", kind, i, q.Scales[0], q.ZeroPoints[0], w.scale, w.zero)
		}
	}
}

// checkInvariants checks what Load promises for any model it returns.
func checkInvariants(t *testing.T, m *Model) {
	t.Helper()
	for gi, g := range m.Subgraphs {
		n := len(g.Tensors)
		for _, op := range g.Operators {
			for _, idx := range [][]int{op.Inputs, op.Outputs, op.Intermediates} {
				for _, i := range idx {
					if i < -1 || i >= n {
						t.Fatalf("subgraph %d: %s has tensor index %d of %d", gi, op.Op, i, n)
					}
				}
			}
		}
		for _, i := range append(append([]int{}, g.Inputs...), g.Outputs...) {
			if i < 0 || i >= n {
				t.Fatalf("subgraph %d: input/output index %d of %d", gi, i, n)
			}
		}
		for ti := range g.Tensors {
			tt := &g.Tensors[ti]
			if s := tt.Type.Size(); s > 0 && tt.Data != nil && len(tt.Data) != s*tt.NumElements() {
				t.Fatalf("tensor %s: %d bytes for %s%v", tt.Name, len(tt.Data), tt.Type, tt.Shape)
			}
			if q := tt.Quantization; q != nil && (len(q.Scales) != len(q.ZeroPoints) || len(q.Scales) == 0 ||
				len(q.Scales) > 1 && (q.Dimension < 0 || q.Dimension >= len(tt.Shape) || tt.Shape[q.Dimension] != len(q.Scales))) {
				t.Fatalf("tensor %s%v: %d scales, %d zero points on dimension %d", tt.Name, tt.Shape, len(q.Scales), len(q.ZeroPoints), q.Dimension)
			}
			for _, d := range tt.Shape {
				if d < 0 {
					t.Fatalf("tensor %s: shape %v", tt.Name, tt.Shape)
				}
			}
		}
	}
}

func TestDetectionPostProcessOptions(t *testing.T) {
	m, err := LoadFile(goTFLiteModel("v1.0.1", "_example/ssd/detect.tflite")(t))
	if err != nil {
		t.Fatal(err)
	}
	op := m.Main().Operators[63]
	if op.Op != DetectionPostProcess || !op.Custom {
		t.Fatalf("last operator is %q (custom %v)", op.Op, op.Custom)
	}
	// Decoded independently with Debian's python3-flatbuffers:
	// flatbuffers.flexbuffers.Loads(custom_options).
	want := &DetectionPostProcessOptions{MaxDetections: 10, MaxClassesPerDetection: 1, DetectionsPerClass: 100,
		NMSScoreThreshold: 1e-8, NMSIoUThreshold: 0.6, NumClasses: 90, YScale: 10, XScale: 10, HScale: 5, WScale: 5}
	if !reflect.DeepEqual(op.Options, want) {
		t.Errorf("options %+v\nwant %+v", op.Options, want)
	}
	if !reflect.DeepEqual(op.Inputs, []int{165, 174, 171}) || !reflect.DeepEqual(op.Outputs, []int{167, 168, 169, 170}) {
		t.Errorf("inputs %v outputs %v", op.Inputs, op.Outputs)
	}
	conv := m.Main().Operators[0]
	if o, ok := conv.Options.(*Conv2DOptions); !ok || *o != (Conv2DOptions{StrideW: 2, StrideH: 2, DilationW: 1, DilationH: 1}) {
		t.Errorf("first CONV_2D options %+v", conv.Options)
	}
}

func TestPerChannelQuantization(t *testing.T) {
	path := coralModel("tf2_mobilenet_v2_1.0_224_ptq.tflite")(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	g := m.Main()
	conv := g.Operators[1] // after the input QUANTIZE
	if conv.Op != "CONV_2D" || conv.Version != 3 {
		t.Fatalf("operator 1 is %s v%d", conv.Op, conv.Version)
	}
	if o, ok := conv.Options.(*Conv2DOptions); !ok || *o != (Conv2DOptions{StrideW: 2, StrideH: 2, DilationW: 1, DilationH: 1, Activation: ActRelu6}) {
		t.Errorf("options %+v", conv.Options)
	}
	w := &g.Tensors[conv.Inputs[1]]
	if w.Type != Int8 || !reflect.DeepEqual(w.Shape, []int{32, 3, 3, 3}) || len(w.Data) != 864 {
		t.Fatalf("weights %s, %d bytes", w, len(w.Data))
	}
	q := w.Quantization
	if q == nil || len(q.Scales) != 32 || q.Dimension != 0 || q.ZeroPoints[0] != 0 ||
		math.Abs(float64(q.Scales[0])-0.009563) > 1e-6 || math.Abs(float64(q.Scales[1])-0.02724) > 1e-5 {
		t.Fatalf("weights quantization %+v", q)
	}
	// Constant data points into the file.
	start := uintptr(unsafe.Pointer(&data[0]))
	if p := uintptr(unsafe.Pointer(&w.Data[0])); p < start || p >= start+uintptr(len(data)) {
		t.Error("weights data is a copy, want a slice of the file")
	}
}
