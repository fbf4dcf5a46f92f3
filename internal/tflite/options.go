package tflite

import "fmt"

// Options are an operator's typed options: one of the *...Options types of
// this package. An interpreter switches on the concrete type.
type Options interface{ isOptions() }

// Padding is how convolutions and pools pad their input.
type Padding int8

// Paddings, with the values of the TensorFlow Lite schema.
const (
	PaddingSame  Padding = 0
	PaddingValid Padding = 1
)

func (p Padding) String() string {
	switch p {
	case PaddingSame:
		return "SAME"
	case PaddingValid:
		return "VALID"
	}
	return fmt.Sprintf("padding(%d)", int8(p))
}

// Activation is the activation function fused into an operator's output.
type Activation int8

// Activations, with the values of the TensorFlow Lite schema.
const (
	ActNone      Activation = 0
	ActRelu      Activation = 1
	ActReluN1To1 Activation = 2
	ActRelu6     Activation = 3
	ActTanh      Activation = 4
	ActSignBit   Activation = 5
)

var activationNames = [...]string{"NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT"}

func (a Activation) String() string {
	if a >= 0 && int(a) < len(activationNames) {
		return activationNames[a]
	}
	return fmt.Sprintf("activation(%d)", int8(a))
}

// Conv2DOptions are the options of CONV_2D.
type Conv2DOptions struct {
	Padding              Padding
	StrideW, StrideH     int
	DilationW, DilationH int
	Activation           Activation
}

// DepthwiseConv2DOptions are the options of DEPTHWISE_CONV_2D.
type DepthwiseConv2DOptions struct {
	Padding              Padding
	StrideW, StrideH     int
	DepthMultiplier      int
	DilationW, DilationH int
	Activation           Activation
}

// FullyConnectedOptions are the options of FULLY_CONNECTED.
type FullyConnectedOptions struct {
	Activation Activation
	// ShuffledWeights: weights in the SHUFFLED4x16INT8 format instead of the default.
	ShuffledWeights bool
	KeepNumDims     bool
}

// Pool2DOptions are the options of AVERAGE_POOL_2D and MAX_POOL_2D.
type Pool2DOptions struct {
	Padding          Padding
	StrideW, StrideH int
	FilterW, FilterH int
	Activation       Activation
}

// ArithmeticOptions are the options of ADD, SUB and MUL.
type ArithmeticOptions struct {
	Activation Activation
}

// ConcatenationOptions are the options of CONCATENATION.
type ConcatenationOptions struct {
	Axis       int // may be negative: counted from the last dimension
	Activation Activation
}

// ReshapeOptions are the options of RESHAPE. Newer converters pass the shape
// as a second input tensor instead and leave NewShape nil.
type ReshapeOptions struct {
	NewShape []int
}

// SqueezeOptions are the options of SQUEEZE.
type SqueezeOptions struct {
	Dims []int // dimensions to remove; empty: every dimension of size 1
}

// ReducerOptions are the options of MEAN.
type ReducerOptions struct {
	KeepDims bool
}

// SoftmaxOptions are the options of SOFTMAX.
type SoftmaxOptions struct {
	Beta float32
}

// DetectionPostProcessOptions are the options of the custom operator
// TFLite_Detection_PostProcess (SSD box decoding and non-maximum suppression),
// decoded from its FlexBuffers custom options.
type DetectionPostProcessOptions struct {
	MaxDetections          int
	MaxClassesPerDetection int
	DetectionsPerClass     int // default 100
	NMSScoreThreshold      float32
	NMSIoUThreshold        float32
	NumClasses             int
	YScale, XScale         float32
	HScale, WScale         float32
	UseRegularNMS          bool // default false
}

func (*Conv2DOptions) isOptions()               {}
func (*DepthwiseConv2DOptions) isOptions()      {}
func (*FullyConnectedOptions) isOptions()       {}
func (*Pool2DOptions) isOptions()               {}
func (*ArithmeticOptions) isOptions()           {}
func (*ConcatenationOptions) isOptions()        {}
func (*ReshapeOptions) isOptions()              {}
func (*SqueezeOptions) isOptions()              {}
func (*ReducerOptions) isOptions()              {}
func (*SoftmaxOptions) isOptions()              {}
func (*DetectionPostProcessOptions) isOptions() {}
