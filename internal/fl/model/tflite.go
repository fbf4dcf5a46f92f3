package model

import (
	"encoding/binary"
	"fmt"
	"math"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/edgeflow/edgeflow/internal/tflite/schema"
)

// ExportTFLite writes an MLP (see MLPLayout) as a TensorFlow Lite flatbuffer
// (schema version 3): a float32 input "input" of shape [batch, in], one
// FULLY_CONNECTED operator a layer (ReLU fused into the hidden ones), the
// last layer's "logits" and a SOFTMAX producing the output "probabilities"
// of shape [batch, out]. The signature "serving_default" maps "input" and
// "probabilities". batch must be at least 1.
func ExportTFLite(m Model, batch int) ([]byte, error) {
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("tflite export: %w", err)
	}
	widths, err := MLPWidths(m.Layout)
	if err != nil {
		return nil, fmt.Errorf("tflite export: %w", err)
	}
	if batch < 1 {
		return nil, fmt.Errorf("tflite export: batch %d, want ≥ 1", batch)
	}
	layers := len(widths) - 1
	b := flatbuffers.NewBuilder(4*len(m.Params) + 4096)

	int32s := func(start func(*flatbuffers.Builder, int) flatbuffers.UOffsetT, v ...int32) flatbuffers.UOffsetT {
		start(b, len(v))
		for i := len(v) - 1; i >= 0; i-- {
			b.PrependInt32(v[i])
		}
		return b.EndVector(len(v))
	}
	offsets := func(start func(*flatbuffers.Builder, int) flatbuffers.UOffsetT, v ...flatbuffers.UOffsetT) flatbuffers.UOffsetT {
		start(b, len(v))
		for i := len(v) - 1; i >= 0; i-- {
			b.PrependUOffsetT(v[i])
		}
		return b.EndVector(len(v))
	}
	floatBytes := func(v []float32) []byte {
		out := make([]byte, 4*len(v))
		for i, f := range v {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(f))
		}
		return out
	}

	// Buffers: 0 is the empty buffer (TFLite convention), then weights and
	// bias of each layer.
	bufs := []flatbuffers.UOffsetT{}
	addBuffer := func(data []byte) uint32 {
		var d flatbuffers.UOffsetT
		if data != nil {
			d = b.CreateByteVector(data)
		}
		schema.BufferStart(b)
		if data != nil {
			schema.BufferAddData(b, d)
		}
		bufs = append(bufs, schema.BufferEnd(b))
		return uint32(len(bufs) - 1)
	}
	addBuffer(nil)

	type tensorDef struct {
		name   string
		shape  []int32
		buffer uint32
	}
	var tensors []tensorDef
	addTensor := func(name string, buffer uint32, shape ...int32) int32 {
		tensors = append(tensors, tensorDef{name, shape, buffer})
		return int32(len(tensors) - 1)
	}
	type opDef struct {
		opcode         uint32
		inputs         []int32
		outputs        []int32
		activation     schema.ActivationFunctionType
		fullyConnected bool
	}
	var ops []opDef

	x := addTensor("input", 0, int32(batch), int32(widths[0]))
	input := x
	for i := range layers {
		w := addTensor(DenseWeights(i), addBuffer(floatBytes(m.Tensor(DenseWeights(i)))), int32(widths[i+1]), int32(widths[i]))
		bias := addTensor(DenseBias(i), addBuffer(floatBytes(m.Tensor(DenseBias(i)))), int32(widths[i+1]))
		name, act := fmt.Sprintf("dense%d/relu", i), schema.ActivationFunctionTypeRELU
		if i == layers-1 {
			name, act = "logits", schema.ActivationFunctionTypeNONE
		}
		out := addTensor(name, 0, int32(batch), int32(widths[i+1]))
		ops = append(ops, opDef{opcode: 0, inputs: []int32{x, w, bias}, outputs: []int32{out}, activation: act, fullyConnected: true})
		x = out
	}
	probs := addTensor("probabilities", 0, int32(batch), int32(widths[layers]))
	ops = append(ops, opDef{opcode: 1, inputs: []int32{x}, outputs: []int32{probs}})

	codes := make([]flatbuffers.UOffsetT, 0, 2)
	for _, c := range []schema.BuiltinOperator{schema.BuiltinOperatorFULLY_CONNECTED, schema.BuiltinOperatorSOFTMAX} {
		schema.OperatorCodeStart(b)
		schema.OperatorCodeAddDeprecatedBuiltinCode(b, int8(c))
		schema.OperatorCodeAddBuiltinCode(b, c)
		schema.OperatorCodeAddVersion(b, 1)
		codes = append(codes, schema.OperatorCodeEnd(b))
	}

	tOffs := make([]flatbuffers.UOffsetT, len(tensors))
	for i, t := range tensors {
		name := b.CreateString(t.name)
		shape := int32s(schema.TensorStartShapeVector, t.shape...)
		schema.TensorStart(b)
		schema.TensorAddName(b, name)
		schema.TensorAddShape(b, shape)
		schema.TensorAddType(b, schema.TensorTypeFLOAT32)
		schema.TensorAddBuffer(b, t.buffer)
		tOffs[i] = schema.TensorEnd(b)
	}
	oOffs := make([]flatbuffers.UOffsetT, len(ops))
	for i, op := range ops {
		in := int32s(schema.OperatorStartInputsVector, op.inputs...)
		out := int32s(schema.OperatorStartOutputsVector, op.outputs...)
		var opts flatbuffers.UOffsetT
		optType := schema.BuiltinOptionsSoftmaxOptions
		if op.fullyConnected {
			schema.FullyConnectedOptionsStart(b)
			schema.FullyConnectedOptionsAddFusedActivationFunction(b, op.activation)
			opts = schema.FullyConnectedOptionsEnd(b)
			optType = schema.BuiltinOptionsFullyConnectedOptions
		} else {
			schema.SoftmaxOptionsStart(b)
			schema.SoftmaxOptionsAddBeta(b, 1)
			opts = schema.SoftmaxOptionsEnd(b)
		}
		schema.OperatorStart(b)
		schema.OperatorAddOpcodeIndex(b, op.opcode)
		schema.OperatorAddInputs(b, in)
		schema.OperatorAddOutputs(b, out)
		schema.OperatorAddBuiltinOptionsType(b, optType)
		schema.OperatorAddBuiltinOptions(b, opts)
		oOffs[i] = schema.OperatorEnd(b)
	}
	tv := offsets(schema.SubGraphStartTensorsVector, tOffs...)
	ov := offsets(schema.SubGraphStartOperatorsVector, oOffs...)
	inV := int32s(schema.SubGraphStartInputsVector, input)
	outV := int32s(schema.SubGraphStartOutputsVector, probs)
	sgName := b.CreateString("main")
	schema.SubGraphStart(b)
	schema.SubGraphAddTensors(b, tv)
	schema.SubGraphAddOperators(b, ov)
	schema.SubGraphAddInputs(b, inV)
	schema.SubGraphAddOutputs(b, outV)
	schema.SubGraphAddName(b, sgName)
	sg := schema.SubGraphEnd(b)

	tensorMap := func(name string, idx int32) flatbuffers.UOffsetT {
		n := b.CreateString(name)
		schema.TensorMapStart(b)
		schema.TensorMapAddName(b, n)
		schema.TensorMapAddTensorIndex(b, uint32(idx))
		return schema.TensorMapEnd(b)
	}
	sigIn := offsets(schema.SignatureDefStartInputsVector, tensorMap("input", input))
	sigOut := offsets(schema.SignatureDefStartOutputsVector, tensorMap("probabilities", probs))
	key := b.CreateString("serving_default")
	schema.SignatureDefStart(b)
	schema.SignatureDefAddInputs(b, sigIn)
	schema.SignatureDefAddOutputs(b, sigOut)
	schema.SignatureDefAddSignatureKey(b, key)
	sig := schema.SignatureDefEnd(b)

	bv := offsets(schema.ModelStartBuffersVector, bufs...)
	cv := offsets(schema.ModelStartOperatorCodesVector, codes...)
	sv := offsets(schema.ModelStartSubgraphsVector, sg)
	sdv := offsets(schema.ModelStartSignatureDefsVector, sig)
	desc := b.CreateString(fmt.Sprintf("edgeflow federated MLP %v", widths))
	schema.ModelStart(b)
	schema.ModelAddVersion(b, 3)
	schema.ModelAddOperatorCodes(b, cv)
	schema.ModelAddSubgraphs(b, sv)
	schema.ModelAddDescription(b, desc)
	schema.ModelAddBuffers(b, bv)
	schema.ModelAddSignatureDefs(b, sdv)
	b.FinishWithFileIdentifier(schema.ModelEnd(b), []byte("TFL3"))
	return b.FinishedBytes(), nil
}
