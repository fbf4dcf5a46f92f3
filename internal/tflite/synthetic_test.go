package tflite

import (
	"encoding/binary"
	"math"
	"sort"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/edgeflow/edgeflow/internal/tflite/schema"
)

// Small models built in the tests with the generated builders, valid or
// broken on purpose in one place.

type synthCode struct {
	deprecated int8
	code       schema.BuiltinOperator
	custom     string
	version    int32
}

type synthTensor struct {
	name   string
	typ    schema.TensorType
	shape  []int32
	sig    []int32
	buffer uint32
	scales []float32
	zps    []int64
	qdim   int32
}

type synthOp struct {
	opcode          uint32
	inputs, outputs []int32
	optType         schema.BuiltinOptions
	options         func(b *flatbuffers.Builder) flatbuffers.UOffsetT
	custom          []byte
	largeOff        uint64
	largeSize       uint64
}

type synthBuffer struct {
	data         []byte
	offset, size uint64
}

type synthSig struct {
	key       string
	subgraph  uint32
	in, out   []string
	inTensor  []uint32
	outTensor []uint32
}

type synthModel struct {
	version         uint32
	codes           []synthCode
	tensors         []synthTensor
	repeatTensors   int // when > 0: the tensors vector repeats tensor 0 this often
	ops             []synthOp
	inputs, outputs []int32
	buffers         []synthBuffer
	sigs            []synthSig
	tail            []byte // bytes after the flatbuffer (large-model buffers)
}

// fcModel is a valid float model: one FULLY_CONNECTED with weights and bias.
func fcModel() *synthModel {
	f32 := func(v ...float32) []byte {
		out := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
		}
		return out
	}
	return &synthModel{
		version: 3,
		codes:   []synthCode{{deprecated: int8(schema.BuiltinOperatorFULLY_CONNECTED), code: schema.BuiltinOperatorFULLY_CONNECTED, version: 1}},
		tensors: []synthTensor{
			{name: "input", typ: schema.TensorTypeFLOAT32, shape: []int32{1, 4}, sig: []int32{-1, 4}},
			{name: "weights", typ: schema.TensorTypeFLOAT32, shape: []int32{2, 4}, buffer: 1},
			{name: "bias", typ: schema.TensorTypeFLOAT32, shape: []int32{2}, buffer: 2},
			{name: "output", typ: schema.TensorTypeFLOAT32, shape: []int32{1, 2}},
		},
		ops: []synthOp{{opcode: 0, inputs: []int32{0, 1, 2}, outputs: []int32{3},
			optType: schema.BuiltinOptionsFullyConnectedOptions,
			options: func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
				schema.FullyConnectedOptionsStart(b)
				schema.FullyConnectedOptionsAddFusedActivationFunction(b, schema.ActivationFunctionTypeRELU)
				return schema.FullyConnectedOptionsEnd(b)
			}}},
		inputs:  []int32{0},
		outputs: []int32{3},
		buffers: []synthBuffer{{}, {data: f32(1, 2, 3, 4, 5, 6, 7, 8)}, {data: f32(0.5, -0.5)}},
		sigs:    []synthSig{{key: "serving_default", in: []string{"x"}, inTensor: []uint32{0}, out: []string{"y"}, outTensor: []uint32{3}}},
	}
}

func (s *synthModel) bytes() []byte {
	b := flatbuffers.NewBuilder(1024)
	ints := func(start func(*flatbuffers.Builder, int) flatbuffers.UOffsetT, v []int32) flatbuffers.UOffsetT {
		start(b, len(v))
		for i := len(v) - 1; i >= 0; i-- {
			b.PrependInt32(v[i])
		}
		return b.EndVector(len(v))
	}
	offsets := func(start func(*flatbuffers.Builder, int) flatbuffers.UOffsetT, v []flatbuffers.UOffsetT) flatbuffers.UOffsetT {
		start(b, len(v))
		for i := len(v) - 1; i >= 0; i-- {
			b.PrependUOffsetT(v[i])
		}
		return b.EndVector(len(v))
	}

	bufs := make([]flatbuffers.UOffsetT, len(s.buffers))
	for i, buf := range s.buffers {
		var data flatbuffers.UOffsetT
		if buf.data != nil {
			data = b.CreateByteVector(buf.data)
		}
		schema.BufferStart(b)
		if buf.data != nil {
			schema.BufferAddData(b, data)
		}
		schema.BufferAddOffset(b, buf.offset)
		schema.BufferAddSize(b, buf.size)
		bufs[i] = schema.BufferEnd(b)
	}
	codes := make([]flatbuffers.UOffsetT, len(s.codes))
	for i, c := range s.codes {
		var custom flatbuffers.UOffsetT
		if c.custom != "" {
			custom = b.CreateString(c.custom)
		}
		schema.OperatorCodeStart(b)
		schema.OperatorCodeAddDeprecatedBuiltinCode(b, c.deprecated)
		schema.OperatorCodeAddBuiltinCode(b, c.code)
		if c.custom != "" {
			schema.OperatorCodeAddCustomCode(b, custom)
		}
		schema.OperatorCodeAddVersion(b, c.version)
		codes[i] = schema.OperatorCodeEnd(b)
	}
	tensors := make([]flatbuffers.UOffsetT, len(s.tensors))
	for i, t := range s.tensors {
		name := b.CreateString(t.name)
		shape := ints(schema.TensorStartShapeVector, t.shape)
		var sig, quant flatbuffers.UOffsetT
		if t.sig != nil {
			sig = ints(schema.TensorStartShapeSignatureVector, t.sig)
		}
		if t.scales != nil {
			schema.QuantizationParametersStartScaleVector(b, len(t.scales))
			for j := len(t.scales) - 1; j >= 0; j-- {
				b.PrependFloat32(t.scales[j])
			}
			scales := b.EndVector(len(t.scales))
			schema.QuantizationParametersStartZeroPointVector(b, len(t.zps))
			for j := len(t.zps) - 1; j >= 0; j-- {
				b.PrependInt64(t.zps[j])
			}
			zps := b.EndVector(len(t.zps))
			schema.QuantizationParametersStart(b)
			schema.QuantizationParametersAddScale(b, scales)
			schema.QuantizationParametersAddZeroPoint(b, zps)
			schema.QuantizationParametersAddQuantizedDimension(b, t.qdim)
			quant = schema.QuantizationParametersEnd(b)
		}
		schema.TensorStart(b)
		schema.TensorAddName(b, name)
		schema.TensorAddShape(b, shape)
		schema.TensorAddType(b, t.typ)
		schema.TensorAddBuffer(b, t.buffer)
		if sig != 0 {
			schema.TensorAddShapeSignature(b, sig)
		}
		if quant != 0 {
			schema.TensorAddQuantization(b, quant)
		}
		tensors[i] = schema.TensorEnd(b)
	}
	if s.repeatTensors > 0 {
		rep := make([]flatbuffers.UOffsetT, s.repeatTensors)
		for i := range rep {
			rep[i] = tensors[0]
		}
		tensors = rep
	}
	ops := make([]flatbuffers.UOffsetT, len(s.ops))
	for i, op := range s.ops {
		in := ints(schema.OperatorStartInputsVector, op.inputs)
		out := ints(schema.OperatorStartOutputsVector, op.outputs)
		var opts, custom flatbuffers.UOffsetT
		if op.options != nil {
			opts = op.options(b)
		}
		if op.custom != nil {
			custom = b.CreateByteVector(op.custom)
		}
		schema.OperatorStart(b)
		schema.OperatorAddOpcodeIndex(b, op.opcode)
		schema.OperatorAddInputs(b, in)
		schema.OperatorAddOutputs(b, out)
		if op.options != nil {
			schema.OperatorAddBuiltinOptionsType(b, op.optType)
			schema.OperatorAddBuiltinOptions(b, opts)
		}
		if op.custom != nil {
			schema.OperatorAddCustomOptions(b, custom)
		}
		schema.OperatorAddLargeCustomOptionsOffset(b, op.largeOff)
		schema.OperatorAddLargeCustomOptionsSize(b, op.largeSize)
		ops[i] = schema.OperatorEnd(b)
	}
	tv := offsets(schema.SubGraphStartTensorsVector, tensors)
	ov := offsets(schema.SubGraphStartOperatorsVector, ops)
	in := ints(schema.SubGraphStartInputsVector, s.inputs)
	out := ints(schema.SubGraphStartOutputsVector, s.outputs)
	name := b.CreateString("main")
	schema.SubGraphStart(b)
	schema.SubGraphAddTensors(b, tv)
	schema.SubGraphAddOperators(b, ov)
	schema.SubGraphAddInputs(b, in)
	schema.SubGraphAddOutputs(b, out)
	schema.SubGraphAddName(b, name)
	sg := schema.SubGraphEnd(b)

	tensorMaps := func(start func(*flatbuffers.Builder, int) flatbuffers.UOffsetT, names []string, idx []uint32) flatbuffers.UOffsetT {
		maps := make([]flatbuffers.UOffsetT, len(names))
		for i := range names {
			n := b.CreateString(names[i])
			schema.TensorMapStart(b)
			schema.TensorMapAddName(b, n)
			schema.TensorMapAddTensorIndex(b, idx[i])
			maps[i] = schema.TensorMapEnd(b)
		}
		return offsets(start, maps)
	}
	sigs := make([]flatbuffers.UOffsetT, len(s.sigs))
	for i, sd := range s.sigs {
		in := tensorMaps(schema.SignatureDefStartInputsVector, sd.in, sd.inTensor)
		out := tensorMaps(schema.SignatureDefStartOutputsVector, sd.out, sd.outTensor)
		key := b.CreateString(sd.key)
		schema.SignatureDefStart(b)
		schema.SignatureDefAddInputs(b, in)
		schema.SignatureDefAddOutputs(b, out)
		schema.SignatureDefAddSignatureKey(b, key)
		schema.SignatureDefAddSubgraphIndex(b, sd.subgraph)
		sigs[i] = schema.SignatureDefEnd(b)
	}

	bv := offsets(schema.ModelStartBuffersVector, bufs)
	cv := offsets(schema.ModelStartOperatorCodesVector, codes)
	sv := offsets(schema.ModelStartSubgraphsVector, []flatbuffers.UOffsetT{sg})
	sdv := offsets(schema.ModelStartSignatureDefsVector, sigs)
	desc := b.CreateString("edgeflow test model")
	schema.ModelStart(b)
	schema.ModelAddVersion(b, s.version)
	schema.ModelAddOperatorCodes(b, cv)
	schema.ModelAddSubgraphs(b, sv)
	schema.ModelAddDescription(b, desc)
	schema.ModelAddBuffers(b, bv)
	schema.ModelAddSignatureDefs(b, sdv)
	b.FinishWithFileIdentifier(schema.ModelEnd(b), []byte("TFL3"))
	return append(b.FinishedBytes(), s.tail...)
}

// encodeFlexMap encodes a FlexBuffers map of numbers (int64 or float64 values,
// bools as uint) with 8-byte slots everywhere: enough to test the reader.
func encodeFlexMap(values map[string]any) []byte {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf []byte
	u64 := func(v uint64) { buf = binary.LittleEndian.AppendUint64(buf, v) }
	keyAt := make([]int, len(keys))
	for i, k := range keys {
		keyAt[i] = len(buf)
		buf = append(append(buf, k...), 0)
	}
	for len(buf)%8 != 0 {
		buf = append(buf, 0)
	}
	u64(uint64(len(keys)))
	keysVec := len(buf)
	for i := range keys {
		u64(uint64(len(buf) - keyAt[i]))
	}
	u64(uint64(len(buf) - keysVec)) // offset to the keys vector
	u64(8)                          // byte width of the keys
	u64(uint64(len(keys)))
	values0 := len(buf)
	types := make([]byte, len(keys))
	for i, k := range keys {
		switch v := values[k].(type) {
		case int:
			u64(uint64(int64(v)))
			types[i] = flexInt<<2 | 3
		case int64: // values beyond a 32-bit int
			u64(uint64(v))
			types[i] = flexInt<<2 | 3
		case float64:
			u64(math.Float64bits(v))
			types[i] = flexFloat<<2 | 3
		case bool:
			var x uint64
			if v {
				x = 1
			}
			u64(x)
			types[i] = flexBool<<2 | 3
		}
	}
	buf = append(buf, types...)
	root := len(buf)
	u64(uint64(root - values0))
	return append(buf, flexMap<<2|3, 8)
}
