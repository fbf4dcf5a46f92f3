package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Limits on layouts, checked by Layout.Validate and by DecodeUpdate.
const (
	MaxTensors    = 1024    // tensors in a layout
	MaxRank       = 8       // dimensions of a tensor
	MaxNameLen    = 128     // bytes of a tensor, node or metric name
	MaxParameters = 1 << 26 // parameters of a model (256 MiB of float32)
)

// ErrLayout is wrapped by errors about a layout that is not valid or does not
// fit what a caller expects (an MLP, another model's layout).
var ErrLayout = errors.New("invalid layout")

// TensorSpec names a tensor and gives its shape.
type TensorSpec struct {
	Name  string
	Shape []int
}

// Size is the number of values of the tensor (1 for a scalar).
func (s TensorSpec) Size() int {
	n := 1
	for _, d := range s.Shape {
		n *= d
	}
	return n
}

func (s TensorSpec) String() string {
	dims := make([]string, len(s.Shape))
	for i, d := range s.Shape {
		dims[i] = fmt.Sprint(d)
	}
	return s.Name + "[" + strings.Join(dims, "×") + "]"
}

// Layout is the ordered list of a model's tensors. The parameter vector of a
// Model holds them back to back in this order, each row-major.
type Layout []TensorSpec

// NumParams is the total number of values of all tensors.
func (l Layout) NumParams() int {
	n := 0
	for _, t := range l {
		n += t.Size()
	}
	return n
}

// Offset returns the position of tensor i's first value in the parameter vector.
func (l Layout) Offset(i int) int {
	n := 0
	for _, t := range l[:i] {
		n += t.Size()
	}
	return n
}

// Index returns the position of the tensor called name, or -1.
func (l Layout) Index(name string) int {
	for i, t := range l {
		if t.Name == name {
			return i
		}
	}
	return -1
}

// Equal reports whether both layouts have the same names and shapes.
func (l Layout) Equal(o Layout) bool {
	if len(l) != len(o) {
		return false
	}
	for i := range l {
		if l[i].Name != o[i].Name || len(l[i].Shape) != len(o[i].Shape) {
			return false
		}
		for j, d := range l[i].Shape {
			if o[i].Shape[j] != d {
				return false
			}
		}
	}
	return true
}

// Clone returns a deep copy.
func (l Layout) Clone() Layout {
	out := make(Layout, len(l))
	for i, t := range l {
		out[i] = TensorSpec{Name: t.Name, Shape: append([]int(nil), t.Shape...)}
	}
	return out
}

// Validate checks the limits: names non-empty, unique and at most
// MaxNameLen bytes, ranks at most MaxRank, dimensions positive, at most
// MaxParameters values. Errors name the tensor (tensors[3].shape[1]).
func (l Layout) Validate() error {
	if len(l) == 0 {
		return fmt.Errorf("tensors: empty: %w", ErrLayout)
	}
	if len(l) > MaxTensors {
		return fmt.Errorf("tensors: %d, more than %d: %w", len(l), MaxTensors, ErrLayout)
	}
	seen := make(map[string]bool, len(l))
	total := 0
	for i, t := range l {
		if t.Name == "" || len(t.Name) > MaxNameLen {
			return fmt.Errorf("tensors[%d].name: length %d not in [1,%d]: %w", i, len(t.Name), MaxNameLen, ErrLayout)
		}
		if seen[t.Name] {
			return fmt.Errorf("tensors[%d].name: %q repeated: %w", i, t.Name, ErrLayout)
		}
		seen[t.Name] = true
		if len(t.Shape) > MaxRank {
			return fmt.Errorf("tensors[%d] (%s).shape: rank %d above %d: %w", i, t.Name, len(t.Shape), MaxRank, ErrLayout)
		}
		size := 1
		for j, d := range t.Shape {
			if d <= 0 || d > MaxParameters {
				return fmt.Errorf("tensors[%d] (%s).shape[%d]: %d not in [1,%d]: %w", i, t.Name, j, d, MaxParameters, ErrLayout)
			}
			size *= d
			if size > MaxParameters {
				return fmt.Errorf("tensors[%d] (%s).shape: more than %d values: %w", i, t.Name, MaxParameters, ErrLayout)
			}
		}
		total += size
		if total > MaxParameters {
			return fmt.Errorf("tensors[%d] (%s): model above %d values: %w", i, t.Name, MaxParameters, ErrLayout)
		}
	}
	return nil
}

// Model is a layout and its parameters: len(Params) == Layout.NumParams().
type Model struct {
	Layout Layout
	Params []float32
}

// New returns a model of layout l with every parameter zero.
func New(l Layout) (Model, error) {
	if err := l.Validate(); err != nil {
		return Model{}, err
	}
	return Model{Layout: l, Params: make([]float32, l.NumParams())}, nil
}

// Tensor returns the values of tensor name: a view of Params, nil when there
// is no such tensor.
func (m Model) Tensor(name string) []float32 {
	i := m.Layout.Index(name)
	if i < 0 {
		return nil
	}
	off := m.Layout.Offset(i)
	return m.Params[off : off+m.Layout[i].Size() : off+m.Layout[i].Size()]
}

// Clone returns a deep copy.
func (m Model) Clone() Model {
	return Model{Layout: m.Layout.Clone(), Params: append([]float32(nil), m.Params...)}
}

// Check reports whether Params fits the layout.
func (m Model) Check() error {
	if err := m.Layout.Validate(); err != nil {
		return err
	}
	if len(m.Params) != m.Layout.NumParams() {
		return fmt.Errorf("params: %d values, layout has %d: %w", len(m.Params), m.Layout.NumParams(), ErrLayout)
	}
	return nil
}

// MLP tensor names: layer i (from 0) has DenseWeights(i), shape [out, in]
// (TensorFlow Lite's FULLY_CONNECTED layout), and DenseBias(i), shape [out].
func DenseWeights(i int) string { return fmt.Sprintf("dense%d/weights", i) }

// DenseBias is the bias tensor of layer i; see DenseWeights.
func DenseBias(i int) string { return fmt.Sprintf("dense%d/bias", i) }

// MLPLayout is the layout of a multilayer perceptron with the given layer
// widths, input first: MLPLayout(784, 200, 200, 10) is McMahan et al.'s 2NN
// (199,210 parameters). Hidden layers use ReLU, the last layer softmax.
func MLPLayout(widths ...int) Layout {
	var l Layout
	for i := 0; i+1 < len(widths); i++ {
		l = append(l,
			TensorSpec{Name: DenseWeights(i), Shape: []int{widths[i+1], widths[i]}},
			TensorSpec{Name: DenseBias(i), Shape: []int{widths[i+1]}})
	}
	return l
}

// MLPWidths reads the layer widths back from an MLP layout, or returns an
// error wrapping ErrLayout naming the tensor that does not fit.
func MLPWidths(l Layout) ([]int, error) {
	if len(l) < 2 || len(l)%2 != 0 {
		return nil, fmt.Errorf("tensors: %d, an MLP has pairs of weights and bias: %w", len(l), ErrLayout)
	}
	widths := []int{}
	for i := 0; i < len(l)/2; i++ {
		w, b := l[2*i], l[2*i+1]
		if w.Name != DenseWeights(i) || len(w.Shape) != 2 {
			return nil, fmt.Errorf("tensors[%d]: want %s[out×in], have %s: %w", 2*i, DenseWeights(i), w, ErrLayout)
		}
		if b.Name != DenseBias(i) || len(b.Shape) != 1 || b.Shape[0] != w.Shape[0] {
			return nil, fmt.Errorf("tensors[%d]: want %s[%d], have %s: %w", 2*i+1, DenseBias(i), w.Shape[0], b, ErrLayout)
		}
		if i == 0 {
			widths = append(widths, w.Shape[1])
		} else if w.Shape[1] != widths[i] {
			return nil, fmt.Errorf("tensors[%d] (%s): input width %d, previous layer has %d: %w", 2*i, w.Name, w.Shape[1], widths[i], ErrLayout)
		}
		widths = append(widths, w.Shape[0])
	}
	return widths, nil
}

// NewMLP returns an MLP with the given widths, weights drawn uniformly from
// ±sqrt(6/(in+out)) (Glorot) with a seeded generator, biases zero.
func NewMLP(seed uint64, widths ...int) (Model, error) {
	if len(widths) < 2 {
		return Model{}, fmt.Errorf("widths: %v, need input and output: %w", widths, ErrLayout)
	}
	m, err := New(MLPLayout(widths...))
	if err != nil {
		return Model{}, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	for i := 0; i+1 < len(widths); i++ {
		w := m.Tensor(DenseWeights(i))
		limit := math.Sqrt(6 / float64(widths[i]+widths[i+1]))
		for j := range w {
			w[j] = float32((2*rng.Float64() - 1) * limit)
		}
	}
	return m, nil
}
