package tflite

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// Kernel tests on one-operator models built in memory, against naive
// implementations of TFLite's reference formulas written out in the test.

func f32Bytes(v []float32) []byte {
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
	}
	return out
}

func i32Bytes(v []int32) []byte {
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], uint32(x))
	}
	return out
}

func q(scale float32, zp int64) *Quantization {
	return &Quantization{Scales: []float32{scale}, ZeroPoints: []int64{zp}}
}

// oneOp is a model of one operator: tensors without Data are the inputs (in
// order) except the last, which is the output.
func oneOp(op string, opts Options, tensors ...Tensor) *Model {
	g := Subgraph{Tensors: tensors}
	var ins []int
	for i := range tensors[:len(tensors)-1] {
		ins = append(ins, i)
		if tensors[i].Data == nil {
			g.Inputs = append(g.Inputs, i)
		}
	}
	out := len(tensors) - 1
	g.Outputs = []int{out}
	g.Operators = []Operator{{Op: op, Inputs: ins, Outputs: []int{out}, Options: opts}}
	return &Model{Version: 3, Subgraphs: []Subgraph{g}}
}

func newTestInterpreter(t *testing.T, m *Model, opts ...InterpreterOption) *Interpreter {
	t.Helper()
	ip, err := NewInterpreter(m, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ip.Close)
	return ip
}

func invoke(t *testing.T, ip *Interpreter) {
	t.Helper()
	if err := ip.Invoke(context.Background()); err != nil {
		t.Fatal(err)
	}
}

type convCase struct {
	name             string
	h, w, inC, outC  int
	kh, kw           int
	stride, dilation int
	padding          Padding
	depthwise        bool
	act              Activation
}

var convCases = []convCase{
	{"3x3 same stride 1", 5, 6, 3, 4, 3, 3, 1, 1, PaddingSame, false, ActNone},
	{"3x3 same stride 2 relu6", 7, 7, 2, 5, 3, 3, 2, 1, PaddingSame, false, ActRelu6},
	{"3x3 valid stride 2", 8, 7, 3, 2, 3, 3, 2, 1, PaddingValid, false, ActRelu},
	{"2x3 same dilation 2", 7, 8, 2, 3, 2, 3, 1, 2, PaddingSame, false, ActNone},
	{"1x1 pointwise", 4, 4, 8, 6, 1, 1, 1, 1, PaddingValid, false, ActNone},
	{"even filter same stride 2", 6, 6, 3, 4, 4, 4, 2, 1, PaddingSame, false, ActNone},
	{"depthwise 3x3 same", 6, 5, 4, 4, 3, 3, 1, 1, PaddingSame, true, ActRelu6},
	{"depthwise multiplier 2 stride 2", 7, 7, 3, 6, 3, 3, 2, 1, PaddingSame, true, ActNone},
	{"depthwise valid dilation 2", 9, 9, 2, 2, 3, 3, 1, 2, PaddingValid, true, ActNone},
	// Sizes past the fast kernels' steps: more pixels than one chunk, channels
	// that are no multiple of 3 or 8, several filter blocks, a partial group
	// of eight depthwise channels.
	{"1x1 pointwise 81 pixels 50 channels", 9, 9, 16, 50, 1, 1, 1, 1, PaddingValid, false, ActRelu},
	{"3x3 deep, several channel blocks", 5, 6, 240, 50, 3, 3, 1, 1, PaddingSame, false, ActNone},
	{"depthwise 3x3 same 20 channels", 6, 7, 20, 20, 3, 3, 1, 1, PaddingSame, true, ActRelu6},
	{"depthwise 3x3 valid dilation 2 17 channels", 9, 8, 17, 17, 3, 3, 1, 2, PaddingValid, true, ActNone},
	{"depthwise 3x3 stride 2 24 channels", 9, 9, 24, 24, 3, 3, 2, 1, PaddingSame, true, ActNone},
}

// outSize and padBefore restate TFLite's padding arithmetic.
func outSizePad(p Padding, in, k, stride, dilation int) (int, int) {
	eff := (k-1)*dilation + 1
	out := (in + stride - 1) / stride
	if p == PaddingValid {
		out = (in + stride - eff) / stride
	}
	return out, max((out-1)*stride+eff-in, 0) / 2
}

// naiveConv is reference_ops::Conv / DepthwiseConv written plainly, on
// values already offset (x + xOff, w + wOff); skipped taps add nothing.
// It returns the accumulators before bias and scaling.
func naiveConv(c convCase, x func(y, xx, ch int) int64, w func(oc, ky, kx, ic int) int64) (acc []int64, oh, ow int) {
	oh, pt := outSizePad(c.padding, c.h, c.kh, c.stride, c.dilation)
	ow, pl := outSizePad(c.padding, c.w, c.kw, c.stride, c.dilation)
	acc = make([]int64, oh*ow*c.outC)
	for oy := range oh {
		for ox := range ow {
			for oc := range c.outC {
				var s int64
				for ky := range c.kh {
					for kx := range c.kw {
						iy, ix := oy*c.stride-pt+ky*c.dilation, ox*c.stride-pl+kx*c.dilation
						if iy < 0 || iy >= c.h || ix < 0 || ix >= c.w {
							continue
						}
						if c.depthwise {
							m := c.outC / c.inC
							s += x(iy, ix, oc/m) * w(oc, ky, kx, 0)
						} else {
							for ic := range c.inC {
								s += x(iy, ix, ic) * w(oc, ky, kx, ic)
							}
						}
					}
				}
				acc[(oy*ow+ox)*c.outC+oc] = s
			}
		}
	}
	return acc, oh, ow
}

func (c convCase) model(typ TensorType, in, filter, bias, out Tensor) *Model {
	if c.depthwise {
		return oneOp("DEPTHWISE_CONV_2D", &DepthwiseConv2DOptions{Padding: c.padding, StrideW: c.stride, StrideH: c.stride,
			DepthMultiplier: c.outC / c.inC, DilationW: c.dilation, DilationH: c.dilation, Activation: c.act}, in, filter, bias, out)
	}
	return oneOp("CONV_2D", &Conv2DOptions{Padding: c.padding, StrideW: c.stride, StrideH: c.stride,
		DilationW: c.dilation, DilationH: c.dilation, Activation: c.act}, in, filter, bias, out)
}

func (c convCase) filterShape() []int {
	if c.depthwise {
		return []int{1, c.kh, c.kw, c.outC}
	}
	return []int{c.outC, c.kh, c.kw, c.inC}
}

func (c convCase) filterIndex(oc, ky, kx, ic int) int {
	if c.depthwise {
		return (ky*c.kw+kx)*c.outC + oc
	}
	return ((oc*c.kh+ky)*c.kw+kx)*c.inC + ic
}

func TestConvFloat(t *testing.T) {
	for _, c := range convCases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			fshape := c.filterShape()
			filter := make([]float32, numElements(fshape))
			for i := range filter {
				filter[i] = float32(rng.IntN(9) - 4)
			}
			bias := []float32{}
			for range c.outC {
				bias = append(bias, float32(rng.IntN(5)-2))
			}
			oh, _ := outSizePad(c.padding, c.h, c.kh, c.stride, c.dilation)
			ow, _ := outSizePad(c.padding, c.w, c.kw, c.stride, c.dilation)
			m := c.model(Float32,
				Tensor{Name: "in", Type: Float32, Shape: []int{1, c.h, c.w, c.inC}},
				Tensor{Name: "filter", Type: Float32, Shape: fshape, Data: f32Bytes(filter)},
				Tensor{Name: "bias", Type: Float32, Shape: []int{c.outC}, Data: f32Bytes(bias)},
				Tensor{Name: "out", Type: Float32, Shape: []int{1, oh, ow, c.outC}})
			for _, threads := range []int{1, 3} {
				ip := newTestInterpreter(t, m, WithThreads(threads))
				x := ip.Input(0).Float32s()
				for i := range x {
					x[i] = float32(rng.IntN(7) - 3)
				}
				invoke(t, ip)
				acc, _, _ := naiveConv(c,
					func(y, xx, ch int) int64 { return int64(x[(y*c.w+xx)*c.inC+ch]) },
					func(oc, ky, kx, ic int) int64 { return int64(filter[c.filterIndex(oc, ky, kx, ic)]) })
				lo, hi, _ := floatActivationRange(c.act)
				got := ip.Output(0).Float32s()
				for i, a := range acc {
					want := clampF(float32(a)+bias[i%c.outC], lo, hi)
					if got[i] != want {
						t.Fatalf("threads %d: out[%d] = %v, want %v", threads, i, got[i], want)
					}
				}
			}
		})
	}
}

func TestConvQuantized(t *testing.T) {
	for _, typ := range []TensorType{Uint8, Int8} {
		for _, c := range convCases {
			t.Run(typ.String()+" "+c.name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(3, 4))
				fshape := c.filterShape()
				lo, _ := typeRange(typ)
				inQ, outQ := q(0.05, int64(lo)+100), q(0.2, int64(lo)+30)
				// uint8: one filter scale and zero point; int8: per channel, zero point 0.
				fq := q(0.03, 120)
				chanAxis := 0
				if c.depthwise {
					chanAxis = 3
				}
				if typ == Int8 {
					fq = &Quantization{Dimension: chanAxis}
					for oc := range c.outC {
						fq.Scales = append(fq.Scales, 0.01+0.005*float32(oc))
						fq.ZeroPoints = append(fq.ZeroPoints, 0)
					}
				}
				filter := make([]byte, numElements(fshape))
				for i := range filter {
					filter[i] = byte(int32(lo) + rng.Int32N(256))
				}
				bias := make([]int32, c.outC)
				for i := range bias {
					bias[i] = rng.Int32N(2001) - 1000
				}
				oh, _ := outSizePad(c.padding, c.h, c.kh, c.stride, c.dilation)
				ow, _ := outSizePad(c.padding, c.w, c.kw, c.stride, c.dilation)
				m := c.model(typ,
					Tensor{Name: "in", Type: typ, Shape: []int{1, c.h, c.w, c.inC}, Quantization: inQ},
					Tensor{Name: "filter", Type: typ, Shape: fshape, Data: filter, Quantization: fq},
					Tensor{Name: "bias", Type: Int32, Shape: []int{c.outC}, Data: i32Bytes(bias)},
					Tensor{Name: "out", Type: typ, Shape: []int{1, oh, ow, c.outC}, Quantization: outQ})
				ip := newTestInterpreter(t, m, WithThreads(2))
				x := ip.Input(0).Data
				for i := range x {
					x[i] = byte(rng.IntN(256))
				}
				invoke(t, ip)
				val := func(b byte) int64 {
					if typ == Int8 {
						return int64(int8(b))
					}
					return int64(b)
				}
				acc, _, _ := naiveConv(c,
					func(y, xx, ch int) int64 { return val(x[(y*c.w+xx)*c.inC+ch]) - inQ.ZeroPoints[0] },
					func(oc, ky, kx, ic int) int64 {
						zp := fq.ZeroPoints[0]
						return val(filter[c.filterIndex(oc, ky, kx, ic)]) - zp
					})
				actLo, actHi, err := quantizedActivationRange(c.act, &m.Main().Tensors[3])
				if err != nil {
					t.Fatal(err)
				}
				got := ip.Output(0).Data
				for i, a := range acc {
					oc := i % c.outC
					var real float64
					if typ == Uint8 {
						real = float64(inQ.Scales[0]*fq.Scales[0]) / float64(outQ.Scales[0])
					} else {
						real = float64(inQ.Scales[0]) * float64(fq.Scales[oc]) / float64(outQ.Scales[0])
					}
					s, e := QuantizeMultiplier(real)
					v := MultiplyByQuantizedMultiplier(int32(a)+bias[oc], s, e) + int32(outQ.ZeroPoints[0])
					want := clamp32(v, actLo, actHi)
					if int32(val(got[i])) != want {
						t.Fatalf("out[%d] = %d, want %d (acc %d)", i, val(got[i]), want, a)
					}
				}
			})
		}
	}
}

func TestPools(t *testing.T) {
	// A 3x3 single-channel input; 2x2 windows with stride 2, SAME: the
	// windows on the right and bottom edges hold fewer taps.
	in := []float32{1, 2, 3, 4, 5, 6, 7, 8, 10}
	tests := []struct {
		op   string
		typ  TensorType
		want []float64
	}{
		{"AVERAGE_POOL_2D", Float32, []float64{3, 4.5, 7.5, 10}},
		{"MAX_POOL_2D", Float32, []float64{5, 6, 8, 10}},
		// uint8 rounds (sum + n/2) / n: (1+2+4+5+2)/4 = 3, (3+6+1)/2 = 5, (7+8+1)/2 = 8.
		{"AVERAGE_POOL_2D", Uint8, []float64{3, 5, 8, 10}},
		// int8 rounds half away from zero: -1.5 → -2 for the window -1 -2.
		{"AVERAGE_POOL_2D", Int8, []float64{-3, -5, -8, -10}},
		{"MAX_POOL_2D", Int8, []float64{-1, -3, -7, -10}},
	}
	for _, tt := range tests {
		t.Run(tt.op+" "+tt.typ.String(), func(t *testing.T) {
			var qz *Quantization
			if tt.typ != Float32 {
				qz = q(1, 0)
			}
			m := oneOp(tt.op, &Pool2DOptions{Padding: PaddingSame, StrideW: 2, StrideH: 2, FilterW: 2, FilterH: 2},
				Tensor{Name: "in", Type: tt.typ, Shape: []int{1, 3, 3, 1}, Quantization: qz},
				Tensor{Name: "out", Type: tt.typ, Shape: []int{1, 2, 2, 1}, Quantization: qz})
			ip := newTestInterpreter(t, m)
			switch tt.typ {
			case Float32:
				copy(ip.Input(0).Float32s(), in)
			case Uint8:
				for i, v := range in {
					ip.Input(0).Data[i] = byte(v)
				}
			case Int8:
				for i, v := range in {
					ip.Input(0).Int8s()[i] = -int8(v)
				}
			}
			invoke(t, ip)
			if got := outputValues(ip.Output(0)); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestElementwise(t *testing.T) {
	tests := []struct {
		name string
		m    *Model
		in   [][]float32
		want []float64
	}{
		{"ADD broadcast", oneOp("ADD", &ArithmeticOptions{},
			Tensor{Name: "a", Type: Float32, Shape: []int{2, 3}},
			Tensor{Name: "b", Type: Float32, Shape: []int{3}, Data: f32Bytes([]float32{10, 20, 30})},
			Tensor{Name: "out", Type: Float32, Shape: []int{2, 3}}),
			[][]float32{{1, 2, 3, 4, 5, 6}}, []float64{11, 22, 33, 14, 25, 36}},
		{"SUB relu", oneOp("SUB", &ArithmeticOptions{Activation: ActRelu},
			Tensor{Name: "a", Type: Float32, Shape: []int{4}},
			Tensor{Name: "b", Type: Float32, Shape: []int{4}, Data: f32Bytes([]float32{1, 1, 5, 5})},
			Tensor{Name: "out", Type: Float32, Shape: []int{4}}),
			[][]float32{{3, 0, 6, 1}}, []float64{2, 0, 1, 0}},
		{"MUL column broadcast", oneOp("MUL", &ArithmeticOptions{},
			Tensor{Name: "a", Type: Float32, Shape: []int{2, 2}},
			Tensor{Name: "b", Type: Float32, Shape: []int{2, 1}, Data: f32Bytes([]float32{2, 3})},
			Tensor{Name: "out", Type: Float32, Shape: []int{2, 2}}),
			[][]float32{{1, 2, 3, 4}}, []float64{2, 4, 9, 12}},
		{"RELU6", oneOp("RELU6", nil,
			Tensor{Name: "a", Type: Float32, Shape: []int{3}},
			Tensor{Name: "out", Type: Float32, Shape: []int{3}}),
			[][]float32{{-1, 3, 7}}, []float64{0, 3, 6}},
		{"PAD", oneOp("PAD", nil,
			Tensor{Name: "a", Type: Float32, Shape: []int{1, 2}},
			Tensor{Name: "p", Type: Int32, Shape: []int{2, 2}, Data: i32Bytes([]int32{1, 0, 1, 2})},
			Tensor{Name: "out", Type: Float32, Shape: []int{2, 5}}),
			[][]float32{{7, 8}}, []float64{0, 0, 0, 0, 0, 0, 7, 8, 0, 0}},
		{"MEAN keep dims", oneOp("MEAN", &ReducerOptions{KeepDims: true},
			Tensor{Name: "a", Type: Float32, Shape: []int{1, 2, 2, 2}},
			Tensor{Name: "axis", Type: Int32, Shape: []int{2}, Data: i32Bytes([]int32{1, 2})},
			Tensor{Name: "out", Type: Float32, Shape: []int{1, 1, 1, 2}}),
			[][]float32{{1, 10, 2, 20, 3, 30, 4, 40}}, []float64{2.5, 25}},
		{"CONCATENATION axis -1", oneOp("CONCATENATION", &ConcatenationOptions{Axis: -1},
			Tensor{Name: "a", Type: Float32, Shape: []int{2, 1}},
			Tensor{Name: "b", Type: Float32, Shape: []int{2, 2}, Data: f32Bytes([]float32{5, 6, 7, 8})},
			Tensor{Name: "out", Type: Float32, Shape: []int{2, 3}}),
			[][]float32{{1, 2}}, []float64{1, 5, 6, 2, 7, 8}},
		{"SQUEEZE", oneOp("SQUEEZE", &SqueezeOptions{},
			Tensor{Name: "a", Type: Float32, Shape: []int{1, 3, 1}},
			Tensor{Name: "out", Type: Float32, Shape: []int{3}}),
			[][]float32{{1, 2, 3}}, []float64{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip := newTestInterpreter(t, tt.m)
			for i, v := range tt.in {
				copy(ip.Input(i).Float32s(), v)
			}
			invoke(t, ip)
			if got := outputValues(ip.Output(0)); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestQuantizedElementwise(t *testing.T) {
	tests := []struct {
		name string
		m    *Model
		in   []byte
		want []float64
	}{
		// Same scales: ADD is the sum of the offset values.
		{"ADD uint8", oneOp("ADD", &ArithmeticOptions{},
			Tensor{Name: "a", Type: Uint8, Shape: []int{3}, Quantization: q(0.5, 10)},
			Tensor{Name: "b", Type: Uint8, Shape: []int{3}, Data: []byte{10, 12, 20}, Quantization: q(0.5, 10)},
			Tensor{Name: "out", Type: Uint8, Shape: []int{3}, Quantization: q(0.5, 10)}),
			[]byte{10, 20, 250}, []float64{10, 22, 255}},
		// Requantized concatenation: 2·0.5 = 1.0 → 1, 4·0.5 → 2, 5 (scale 1) stays.
		{"CONCATENATION requantizes", oneOp("CONCATENATION", &ConcatenationOptions{Axis: 0},
			Tensor{Name: "a", Type: Uint8, Shape: []int{2}, Quantization: q(0.5, 0)},
			Tensor{Name: "b", Type: Uint8, Shape: []int{1}, Data: []byte{5}, Quantization: q(1, 0)},
			Tensor{Name: "out", Type: Uint8, Shape: []int{3}, Quantization: q(1, 0)}),
			[]byte{2, 5}, []float64{1, 3, 5}}, // 2.5 rounds away from zero
		{"PAD with the zero point", oneOp("PAD", nil,
			Tensor{Name: "a", Type: Uint8, Shape: []int{2}, Quantization: q(1, 7)},
			Tensor{Name: "p", Type: Int32, Shape: []int{1, 2}, Data: i32Bytes([]int32{1, 1})},
			Tensor{Name: "out", Type: Uint8, Shape: []int{4}, Quantization: q(1, 7)}),
			[]byte{1, 2}, []float64{7, 1, 2, 7}},
		{"LOGISTIC table", oneOp("LOGISTIC", nil,
			Tensor{Name: "a", Type: Uint8, Shape: []int{3}, Quantization: q(0.1, 128)},
			Tensor{Name: "out", Type: Uint8, Shape: []int{3}, Quantization: q(1.0/256, 0)}),
			[]byte{128, 0, 255}, []float64{128, 0, 255}}, // σ(0)=0.5; σ(-12.8)≈0; σ(12.7)≈1 clamps
		{"QUANTIZE uint8 to int8", oneOp("QUANTIZE", nil,
			Tensor{Name: "a", Type: Uint8, Shape: []int{3}, Quantization: q(0.5, 128)},
			Tensor{Name: "out", Type: Int8, Shape: []int{3}, Quantization: q(0.5, 0)}),
			[]byte{0, 128, 255}, []float64{-128, 0, 127}},
		{"MEAN int8 over height and width", oneOp("MEAN", &ReducerOptions{KeepDims: true},
			Tensor{Name: "a", Type: Int8, Shape: []int{1, 2, 1, 1}, Quantization: q(1, 0)},
			Tensor{Name: "axis", Type: Int32, Shape: []int{2}, Data: i32Bytes([]int32{1, 2})},
			Tensor{Name: "out", Type: Int8, Shape: []int{1, 1, 1, 1}, Quantization: q(1, 0)}),
			[]byte{0xfe, 0xff}, []float64{-2}}, // (-2 + -1)/2 = -1.5 rounds away from zero
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip := newTestInterpreter(t, tt.m)
			copy(ip.Input(0).Data, tt.in)
			invoke(t, ip)
			if got := outputValues(ip.Output(0)); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSoftmaxQuantized(t *testing.T) {
	m := oneOp("SOFTMAX", &SoftmaxOptions{Beta: 1},
		Tensor{Name: "a", Type: Uint8, Shape: []int{1, 4}, Quantization: q(0.1, 0)},
		Tensor{Name: "out", Type: Uint8, Shape: []int{1, 4}, Quantization: q(1.0/256, 0)})
	ip := newTestInterpreter(t, m)
	copy(ip.Input(0).Data, []byte{10, 20, 30, 40})
	invoke(t, ip)
	x := []float64{1, 2, 3, 4}
	var sum float64
	for _, v := range x {
		sum += math.Exp(v)
	}
	for i, got := range ip.Output(0).UInt8s() {
		want := math.Exp(x[i]) / sum * 256
		if math.Abs(float64(got)-want) > 1 {
			t.Errorf("out[%d] = %d, want %.2f within one quantum", i, got, want)
		}
	}
}

func TestDetectionPostProcess(t *testing.T) {
	// Three anchors; boxes encode exactly the anchors (zero offsets). Box 1
	// overlaps box 0 heavily and scores lower: suppressed. Box 2 is apart.
	anchors := []float32{0.5, 0.5, 0.4, 0.4, 0.52, 0.5, 0.4, 0.4, 0.2, 0.8, 0.2, 0.2}
	scores := []float32{ // background, class 0, class 1
		0, 0.9, 0.1,
		0, 0.8, 0.3,
		0, 0.2, 0.7,
	}
	for _, regular := range []bool{false, true} {
		opts := &DetectionPostProcessOptions{MaxDetections: 3, MaxClassesPerDetection: 1, DetectionsPerClass: 10,
			NMSScoreThreshold: 0.15, NMSIoUThreshold: 0.5, NumClasses: 2, YScale: 10, XScale: 10, HScale: 5, WScale: 5, UseRegularNMS: regular}
		g := Subgraph{
			Tensors: []Tensor{
				{Name: "boxes", Type: Float32, Shape: []int{1, 3, 4}},
				{Name: "scores", Type: Float32, Shape: []int{1, 3, 3}},
				{Name: "anchors", Type: Float32, Shape: []int{3, 4}, Data: f32Bytes(anchors)},
				{Name: "det_boxes", Type: Float32}, {Name: "det_classes", Type: Float32},
				{Name: "det_scores", Type: Float32}, {Name: "num", Type: Float32},
			},
			Operators: []Operator{{Op: DetectionPostProcess, Custom: true, Inputs: []int{0, 1, 2}, Outputs: []int{3, 4, 5, 6}, Options: opts}},
			Inputs:    []int{0, 1}, Outputs: []int{3, 4, 5, 6},
		}
		ip := newTestInterpreter(t, &Model{Version: 3, Subgraphs: []Subgraph{g}})
		copy(ip.Input(1).Float32s(), scores)
		invoke(t, ip)
		classes, dscores, num := ip.Output(1).Float32s(), ip.Output(2).Float32s(), ip.Output(3).Float32s()
		box0 := ip.Output(0).Float32s()[:4]
		var wantClasses, wantScores []float32
		if regular {
			// Per class: class 0 keeps box 0 (box 1 suppressed, box 2 below
			// nothing: 0.2 ≥ 0.15 and apart), class 1 keeps box 2 and box 1.
			wantClasses, wantScores = []float32{0, 1, 1}, []float32{0.9, 0.7, 0.3}
		} else {
			wantClasses, wantScores = []float32{0, 1, 0}, []float32{0.9, 0.7, 0}
		}
		if !slices.Equal(classes, wantClasses) || !slices.Equal(dscores, wantScores) {
			t.Errorf("regular %v: classes %v scores %v, want %v %v", regular, classes, dscores, wantClasses, wantScores)
		}
		if wantN := float32(len(slices.DeleteFunc(slices.Clone(wantScores), func(s float32) bool { return s == 0 }))); num[0] != wantN {
			t.Errorf("regular %v: %v detections, want %v", regular, num[0], wantN)
		}
		if want := []float32{0.3, 0.3, 0.7, 0.7}; math.Abs(float64(box0[0]-want[0])) > 1e-6 || math.Abs(float64(box0[3]-want[3])) > 1e-6 {
			t.Errorf("box 0 = %v, want %v", box0, want)
		}
	}
}

func TestNewInterpreterErrors(t *testing.T) {
	conv := func(outShape []int) *Model {
		return oneOp("CONV_2D", &Conv2DOptions{Padding: PaddingValid, StrideW: 1, StrideH: 1},
			Tensor{Name: "in", Type: Float32, Shape: []int{1, 4, 4, 1}},
			Tensor{Name: "filter", Type: Float32, Shape: []int{1, 3, 3, 1}, Data: f32Bytes(make([]float32, 9))},
			Tensor{Name: "out", Type: Float32, Shape: outShape})
	}
	tests := []struct {
		name    string
		m       *Model
		wantIs  error
		wantMsg string
	}{
		{"unsupported operator", oneOp("GATHER", nil, Tensor{Name: "a", Type: Float32, Shape: []int{1}}, Tensor{Name: "b", Type: Float32, Shape: []int{1}}),
			ErrUnsupportedOps, "GATHER (1)"},
		{"conv output shape", conv([]int{1, 4, 4, 1}), ErrInterpreter, "operators[0] (CONV_2D): output out float32[1 4 4 1]: want [1 2 2 1]"},
		{"unquantized uint8", oneOp("RELU", nil, Tensor{Name: "a", Type: Uint8, Shape: []int{2}}, Tensor{Name: "b", Type: Uint8, Shape: []int{2}}),
			ErrInterpreter, "operators[0] (RELU): input a uint8[2]: want per-tensor quantization"},
		{"arena over the limit", oneOp("RELU", nil, Tensor{Name: "a", Type: Float32, Shape: []int{1 << 20}}, Tensor{Name: "b", Type: Float32, Shape: []int{1 << 20}}),
			ErrInterpreter, "the activations need 8388608 bytes, more than the limit of 4194304"},
		{"fused tanh", oneOp("ADD", &ArithmeticOptions{Activation: ActTanh}, Tensor{Name: "a", Type: Float32, Shape: []int{2}}, Tensor{Name: "b", Type: Float32, Shape: []int{2}}, Tensor{Name: "c", Type: Float32, Shape: []int{2}}),
			ErrInterpreter, "fused activation TANH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip, err := NewInterpreter(tt.m, WithArenaLimit(4<<20))
			if err == nil {
				ip.Close()
				t.Fatal("no error")
			}
			if !errors.Is(err, tt.wantIs) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q, want %v containing %q", err, tt.wantIs, tt.wantMsg)
			}
		})
	}
}

func TestInvokeAfterClose(t *testing.T) {
	m := oneOp("RELU", nil, Tensor{Name: "a", Type: Float32, Shape: []int{2}}, Tensor{Name: "b", Type: Float32, Shape: []int{2}})
	ip := newTestInterpreter(t, m, WithThreads(2))
	ip.Close()
	ip.Close()
	if err := ip.Invoke(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke after Close: %v, want ErrClosed", err)
	}
	if _, err := NewInterpreter(&Model{}); !errors.Is(err, ErrInterpreter) {
		t.Errorf("NewInterpreter of a model without subgraphs: %v", err)
	}
}

func TestInvokeCancelled(t *testing.T) {
	m := oneOp("RELU", nil, Tensor{Name: "a", Type: Float32, Shape: []int{2}}, Tensor{Name: "b", Type: Float32, Shape: []int{2}})
	ip := newTestInterpreter(t, m)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ip.Invoke(ctx); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "operators[0] (RELU)") {
		t.Errorf("Invoke with a cancelled context: %v", err)
	}
}

// TestArenaReuse: in a chain a → b → c → d, a and c may share memory, b and d
// too; the arena holds two tensors, not four.
func TestArenaReuse(t *testing.T) {
	ts := []Tensor{
		{Name: "a", Type: Float32, Shape: []int{256}}, {Name: "b", Type: Float32, Shape: []int{256}},
		{Name: "c", Type: Float32, Shape: []int{256}}, {Name: "d", Type: Float32, Shape: []int{256}},
	}
	g := Subgraph{Tensors: ts, Inputs: []int{0}, Outputs: []int{3}}
	for i := range 3 {
		g.Operators = append(g.Operators, Operator{Op: "RELU", Inputs: []int{i}, Outputs: []int{i + 1}})
	}
	ip := newTestInterpreter(t, &Model{Version: 3, Subgraphs: []Subgraph{g}})
	if got, want := ip.ArenaBytes(), 2*1024; got != want {
		t.Errorf("arena %d bytes, want %d", got, want)
	}
	copy(ip.Input(0).Float32s(), []float32{-1, 2})
	invoke(t, ip)
	if got := ip.Output(0).Float32s()[:2]; !slices.Equal(got, []float32{0, 2}) {
		t.Errorf("output %v", got)
	}
}

// TestInvokeAllocations: after the first Invoke, running a model allocates
// nothing (on real quantized models and the detection post-processing).
func TestInvokeAllocations(t *testing.T) {
	names, by := goldenModels(t)
	for _, name := range names {
		if name != "mobilenet_v1_0.25_128_quant" && name != "ssd_detect" && name != "mnist" {
			continue
		}
		if name == "ssd_detect" && raceEnabled {
			continue // 30 s under the race detector; checked without it
		}
		t.Run(name, func(t *testing.T) {
			c := by[name][0]
			ip := newTestInterpreter(t, goldenModel(t, c), WithThreads(2))
			copy(ip.Input(0).Data, c.Input.Data)
			ctx := context.Background()
			invoke(t, ip)
			allocs := testing.AllocsPerRun(3, func() {
				if err := ip.Invoke(ctx); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per Invoke, want 0", allocs)
			}
		})
	}
}

// TestConvPackedMatchesPlain: the quantized convolution on the machine's
// micro-kernel (assembly where there is one), the pure-Go packed one and the
// plain one give the same output bytes on real uint8 and int8 models.
func TestConvPackedMatchesPlain(t *testing.T) {
	names, by := goldenModels(t)
	for _, name := range names {
		if name != "mobilenet_v1_0.25_128_quant" && name != "mobilenet_v2_1.0_224_quant" {
			continue
		}
		if name == "mobilenet_v2_1.0_224_quant" && raceEnabled {
			continue // slow under the race detector; checked without it
		}
		t.Run(name, func(t *testing.T) {
			c := by[name][0]
			m := goldenModel(t, c)
			fast := newTestInterpreter(t, m)
			packed := newTestInterpreter(t, m, withPackedConv())
			plain := newTestInterpreter(t, m, withPlainConv())
			for _, ip := range []*Interpreter{fast, packed, plain} {
				copy(ip.Input(0).Data, c.Input.Data)
				invoke(t, ip)
			}
			for _, tc := range []struct {
				name string
				ip   *Interpreter
			}{{"fast", fast}, {"packed", packed}} {
				if !slices.Equal(tc.ip.Output(0).Data, plain.Output(0).Data) {
					t.Errorf("%s and plain outputs differ:\n%s %v\nplain  %v", tc.name, tc.name, tc.ip.Output(0).Data[:20], plain.Output(0).Data[:20])
				}
			}
		})
	}
}
