package tflite

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// SupportedOps are the operators edgeflow's interpreter is built for, sorted.
func SupportedOps() []string { return slices.Clone(supportedOrder) }

// DetectionPostProcess is the custom code of SSD's detection post-processing.
const DetectionPostProcess = "TFLite_Detection_PostProcess"

var supportedOrder = []string{
	"ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEQUANTIZE",
	"FULLY_CONNECTED", "LOGISTIC", "MAX_POOL_2D", "MEAN", "MUL", "PAD", "QUANTIZE", "RELU", "RELU6",
	"RESHAPE", "SOFTMAX", "SQUEEZE", "SUB", "TANH", DetectionPostProcess,
}

var supportedOps = func() map[string]bool {
	m := make(map[string]bool, len(supportedOrder))
	for _, op := range supportedOrder {
		m[op] = true
	}
	return m
}()

// IsSupported reports whether op (an Operator.Op) is one of SupportedOps.
func IsSupported(op string) bool { return supportedOps[op] }

// ErrUnsupportedOps is wrapped by CheckSupported's error.
var ErrUnsupportedOps = errors.New("unsupported operators")

// OpCount is how often an operator occurs in a model.
type OpCount struct {
	Op    string
	Count int
}

// Ops summarizes the operators of all subgraphs: each distinct operator with
// its number of uses, in order of first use.
func (m *Model) Ops() []OpCount {
	var out []OpCount
	at := map[string]int{}
	for _, g := range m.Subgraphs {
		for _, op := range g.Operators {
			i, ok := at[op.Op]
			if !ok {
				i = len(out)
				at[op.Op] = i
				out = append(out, OpCount{Op: op.Op})
			}
			out[i].Count++
		}
	}
	return out
}

// UnsupportedOps lists, in order of first use, the operators of the model that
// are not in SupportedOps; nil when every operator is supported.
func (m *Model) UnsupportedOps() []string {
	var out []string
	for _, c := range m.Ops() {
		if !IsSupported(c.Op) {
			out = append(out, c.Op)
		}
	}
	return out
}

// CheckSupported returns an error wrapping ErrUnsupportedOps that names every
// unsupported operator with its count, or nil.
func (m *Model) CheckSupported() error {
	var bad []string
	for _, c := range m.Ops() {
		if !IsSupported(c.Op) {
			bad = append(bad, fmt.Sprintf("%s (%d)", c.Op, c.Count))
		}
	}
	if bad == nil {
		return nil
	}
	return fmt.Errorf("tflite: %w: %s", ErrUnsupportedOps, strings.Join(bad, ", "))
}
