package tflite

import (
	"fmt"

	"github.com/edgeflow/edgeflow/internal/tflite/schema"
)

// Model is a loaded TensorFlow Lite model. Constant tensor data (Tensor.Data,
// Operator.CustomOptions, Metadata.Data) are slices of the bytes given to Load,
// not copies: keep those bytes unchanged while the model is in use.
type Model struct {
	Version       uint32 // schema version, 3 for every current converter
	Description   string // e.g. "TOCO Converted." or "MLIR Converted."
	Subgraphs     []Subgraph
	SignatureDefs []SignatureDef
	Metadata      []Metadata
}

// Main is subgraph 0, the one an interpreter runs. Load guarantees it exists.
func (m *Model) Main() *Subgraph { return &m.Subgraphs[0] }

// Subgraph is a graph of operators over tensors.
type Subgraph struct {
	Name      string
	Tensors   []Tensor
	Operators []Operator // in execution order
	Inputs    []int      // indices into Tensors
	Outputs   []int      // indices into Tensors
}

// InputTensors returns the subgraph's input tensors in order.
func (g *Subgraph) InputTensors() []*Tensor { return g.pick(g.Inputs) }

// OutputTensors returns the subgraph's output tensors in order.
func (g *Subgraph) OutputTensors() []*Tensor { return g.pick(g.Outputs) }

func (g *Subgraph) pick(idx []int) []*Tensor {
	out := make([]*Tensor, len(idx))
	for i, t := range idx {
		out[i] = &g.Tensors[t]
	}
	return out
}

// Tensor is a typed n-dimensional array: a constant (Data set) or an
// activation computed at run time (Data nil).
type Tensor struct {
	Name string
	Type TensorType
	// Shape holds the dimensions (all >= 0; empty for a scalar or for a
	// shape only known at run time, as in TOCO's detection outputs).
	Shape []int
	// ShapeSignature is Shape with -1 for dimensions unknown at conversion
	// time (usually the batch); nil when the file has none.
	ShapeSignature []int
	// Data is the constant content, little-endian, len = NumElements *
	// Type.Size() for fixed-size types; nil for activations.
	Data         []byte
	Quantization *Quantization // nil when the tensor is not quantized
	IsVariable   bool
	Sparse       bool // the file has sparsity parameters (not decoded)
}

// NumElements is the product of the dimensions (1 for a scalar).
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// String is a short description like `input uint8[1 224 224 3] q(0.0078125,128)`.
func (t *Tensor) String() string {
	s := fmt.Sprintf("%s %s%v", t.Name, t.Type, t.Shape)
	if q := t.Quantization; q != nil {
		if len(q.Scales) == 1 {
			s += fmt.Sprintf(" q(%g,%d)", q.Scales[0], q.ZeroPoints[0])
		} else {
			s += fmt.Sprintf(" q(%d channels on axis %d)", len(q.Scales), q.Dimension)
		}
	}
	return s
}

// Quantization maps quantized values q to real values: r = scale*(q - zero
// point), per tensor (one scale) or per channel along Dimension.
type Quantization struct {
	Scales     []float32
	ZeroPoints []int64 // same length as Scales
	Dimension  int     // the quantized dimension when len(Scales) > 1
}

// TensorType is the element type of a tensor.
type TensorType int8

// Tensor types, with the values of the TensorFlow Lite schema.
const (
	Float32    = TensorType(schema.TensorTypeFLOAT32)
	Float16    = TensorType(schema.TensorTypeFLOAT16)
	Int32      = TensorType(schema.TensorTypeINT32)
	Uint8      = TensorType(schema.TensorTypeUINT8)
	Int64      = TensorType(schema.TensorTypeINT64)
	String     = TensorType(schema.TensorTypeSTRING)
	Bool       = TensorType(schema.TensorTypeBOOL)
	Int16      = TensorType(schema.TensorTypeINT16)
	Complex64  = TensorType(schema.TensorTypeCOMPLEX64)
	Int8       = TensorType(schema.TensorTypeINT8)
	Float64    = TensorType(schema.TensorTypeFLOAT64)
	Complex128 = TensorType(schema.TensorTypeCOMPLEX128)
	Uint64     = TensorType(schema.TensorTypeUINT64)
	Resource   = TensorType(schema.TensorTypeRESOURCE)
	Variant    = TensorType(schema.TensorTypeVARIANT)
	Uint32     = TensorType(schema.TensorTypeUINT32)
	Uint16     = TensorType(schema.TensorTypeUINT16)
	Int4       = TensorType(schema.TensorTypeINT4)
)

// String is the lower-case type name, e.g. "float32", "uint8".
func (t TensorType) String() string {
	if t >= Float32 && t <= Int4 {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", int8(t))
}

var typeNames = [...]string{"float32", "float16", "int32", "uint8", "int64", "string", "bool", "int16",
	"complex64", "int8", "float64", "complex128", "uint64", "resource", "variant", "uint32", "uint16", "int4"}

// Size is the size of one element in bytes; 0 for types without a fixed size
// (string, resource, variant, the packed int4).
func (t TensorType) Size() int {
	switch t {
	case Uint8, Int8, Bool:
		return 1
	case Float16, Int16, Uint16:
		return 2
	case Float32, Int32, Uint32:
		return 4
	case Float64, Int64, Uint64, Complex64:
		return 8
	case Complex128:
		return 16
	}
	return 0
}

// Operator is one node of a subgraph.
type Operator struct {
	// Op names the operation: a builtin's schema name ("CONV_2D") or a
	// custom operator's code ("TFLite_Detection_PostProcess").
	Op      string
	Custom  bool  // Op is a custom code
	Version int32 // operator version (kernels may differ per version)
	// Inputs and Outputs are tensor indices; -1 marks an absent optional tensor.
	Inputs        []int
	Outputs       []int
	Intermediates []int
	// Options are the typed options of the builtin operators edgeflow
	// supports (see SupportedOps) and of TFLite_Detection_PostProcess; nil for
	// operators without options and for other operators.
	Options Options
	// CustomOptions are a custom operator's raw options (FlexBuffers).
	CustomOptions []byte
}

// SignatureDef names a subgraph's inputs and outputs for one exported method.
type SignatureDef struct {
	Key      string // e.g. "serving_default"
	Subgraph int
	Inputs   []TensorMap
	Outputs  []TensorMap
}

// TensorMap maps a signature's name to a tensor of its subgraph.
type TensorMap struct {
	Name   string
	Tensor int
}

// Metadata is a named buffer of the model (labels, version, TFLite metadata).
type Metadata struct {
	Name string
	Data []byte
}
