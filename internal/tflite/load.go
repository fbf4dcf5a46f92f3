package tflite

import (
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/edgeflow/edgeflow/internal/tflite/schema"
)

// Fixed limits Load enforces; a model beyond one is refused with ErrTooLarge.
// They are far above what edge models need (MobileNet SSD: 176 tensors, 64
// operators) and keep a hostile file from making the loader allocate much more
// than the file's own size.
const (
	MaxFileBytes     = 1<<31 - 1 // flatbuffer offsets are 32-bit; the whole file must be addressable by them
	MaxSubgraphs     = 1 << 10
	MaxTensors       = 1 << 19 // over all subgraphs
	MaxOperators     = 1 << 19 // over all subgraphs
	MaxBuffers       = 1 << 19
	MaxOperatorCodes = 1 << 12
	MaxRank          = 16      // dimensions of a tensor
	MaxOperands      = 1 << 16 // inputs or outputs of one operator or subgraph
	MaxChannels      = 1 << 20 // quantization parameters of one tensor
	MaxTensorBytes   = 1<<31 - 1
	MaxSignatureDefs = 1 << 10
	MaxMetadata      = 1 << 10
)

// fileIdentifier is the flatbuffer file identifier of TensorFlow Lite models.
const fileIdentifier = "TFL3"

// Load parses a .tflite model held in data. The model's constant tensors point
// into data (no copies): data must stay unchanged while the model is used.
// A file that is not a well-formed model yields an error wrapping ErrMalformed
// or ErrTooLarge and naming the place (e.g. subgraphs[0].tensors[7].shape);
// Load never panics on its input.
func Load(data []byte) (m *Model, err error) {
	if len(data) > MaxFileBytes {
		return nil, tooLarge("file", "%d bytes, the limit is %d", len(data), MaxFileBytes)
	}
	defer func() {
		// Every access is checked before it is made; this only turns a
		// checking bug into an error instead of a crash of the node.
		if r := recover(); r != nil {
			if _, ok := r.(runtime.Error); !ok {
				panic(r)
			}
			m, err = nil, fmt.Errorf("tflite: %w: unchecked access (%v)", errUnchecked, r)
		}
	}()
	l := &loader{f: flatBuffer{b: data}, budget: 2*int64(len(data)) + 16<<20}
	return l.model()
}

// errUnchecked marks a panic recovered inside Load: a missing check, which the
// fuzz tests report as a failure.
var errUnchecked = fmt.Errorf("%w (internal error)", ErrMalformed)

// LoadFile reads and loads the model at path; errors name the path.
func LoadFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tflite: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("tflite: %w", err)
	}
	if st.Size() > MaxFileBytes {
		return nil, fmt.Errorf("%s: %w", path, tooLarge("file", "%d bytes, the limit is %d", st.Size(), MaxFileBytes))
	}
	data := make([]byte, st.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("tflite: reading %s: %w", path, err)
	}
	m, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// loader holds the state of one Load.
type loader struct {
	f       flatBuffer
	buffers [][]byte
	opcodes []opcode
	// budget is what the loader may still allocate, in bytes, estimated; it
	// starts at twice the file size plus 16 MiB, so a file whose tables share
	// their parts (legal in flatbuffers) cannot make it allocate without bound.
	budget int64
	// tensors and operators count over all subgraphs against the limits.
	tensors, operators int
}

type opcode struct {
	name    string
	builtin schema.BuiltinOperator
	custom  bool
	version int32
}

// charge takes n bytes from the allocation budget.
func (l *loader) charge(n int64, where string) error {
	l.budget -= n
	if l.budget < 0 {
		return tooLarge(where, "the model's tables describe far more data than the file holds (shared or repeated tables)")
	}
	return nil
}

func (l *loader) model() (*Model, error) {
	b := l.f.b
	if len(b) < 8 {
		return nil, malformed("file", "%d bytes is too short for a TensorFlow Lite model", len(b))
	}
	if id := string(b[4:8]); id != fileIdentifier {
		return nil, malformed("file", "file identifier is %q, want %q: not a TensorFlow Lite model", id, fileIdentifier)
	}
	root, err := l.f.table(uint64(l.f.u32(0)), "model")
	if err != nil {
		return nil, err
	}
	var fm schema.Model
	fm.Init(b, root.pos)
	if err := l.f.scalar(root, slot(0), 4, "model.version"); err != nil {
		return nil, err
	}
	m := &Model{Version: fm.Version()}
	if m.Version != 3 {
		return nil, malformed("model.version", "schema version %d, want 3", m.Version)
	}
	if m.Description, err = l.str(root, slot(3), 1<<20, "model.description"); err != nil {
		return nil, err
	}
	if err := l.loadBuffers(root); err != nil {
		return nil, err
	}
	if err := l.loadOpcodes(root); err != nil {
		return nil, err
	}
	sgs, err := l.f.tables(root, slot(2), MaxSubgraphs, "model.subgraphs")
	if err != nil {
		return nil, err
	}
	if len(sgs) == 0 {
		return nil, malformed("model.subgraphs", "the model has no subgraph")
	}
	if err := l.charge(int64(len(sgs))*128, "model.subgraphs"); err != nil {
		return nil, err
	}
	m.Subgraphs = make([]Subgraph, len(sgs))
	for i, t := range sgs {
		if err := l.subgraph(t, &m.Subgraphs[i], fmt.Sprintf("subgraphs[%d]", i)); err != nil {
			return nil, err
		}
	}
	if m.SignatureDefs, err = l.signatureDefs(root, m); err != nil {
		return nil, err
	}
	if m.Metadata, err = l.metadata(root); err != nil {
		return nil, err
	}
	return m, nil
}

// str reads a string field (copied), at most max bytes.
func (l *loader) str(t fbTable, slot uint16, max int, where string) (string, error) {
	n, start, err := l.f.vector(t, slot, 1, max, where)
	if err != nil || n == 0 {
		return "", err
	}
	if err := l.charge(int64(n), where); err != nil {
		return "", err
	}
	return string(l.f.b[start : start+uint64(n)]), nil
}

// ints reads a vector of int32 fields through get (a generated accessor)
// after checking it, at most max elements.
func (l *loader) ints(t fbTable, slot uint16, max int, where string, get func(int) int32) ([]int, bool, error) {
	n, _, err := l.f.vector(t, slot, 4, max, where)
	if err != nil {
		return nil, false, err
	}
	if l.f.field(t, slot) == 0 {
		return nil, false, nil
	}
	if err := l.charge(int64(n)*8+24, where); err != nil {
		return nil, false, err
	}
	out := make([]int, n)
	for i := range out {
		out[i] = int(get(i))
	}
	return out, true, nil
}

func (l *loader) loadBuffers(root fbTable) error {
	bufs, err := l.f.tables(root, slot(4), MaxBuffers, "model.buffers")
	if err != nil {
		return err
	}
	if err := l.charge(int64(len(bufs))*24, "model.buffers"); err != nil {
		return err
	}
	l.buffers = make([][]byte, len(bufs))
	for i, t := range bufs {
		where := fmt.Sprintf("buffers[%d]", i)
		if err := l.f.scalars(t, where, slot(1), 8, slot(2), 8); err != nil {
			return err
		}
		n, start, err := l.f.vector(t, slot(0), 1, MaxFileBytes, where+".data")
		if err != nil {
			return err
		}
		var fb schema.Buffer
		fb.Init(l.f.b, t.pos)
		off, size := fb.Offset(), fb.Size()
		switch {
		case off > 1 && n > 0:
			return malformed(where, "has both inline data and an offset")
		case off > 1:
			if off > uint64(len(l.f.b)) || size > uint64(len(l.f.b))-off {
				return malformed(where, "data at offset %d, size %d runs past the end of the file (%d bytes)", off, size, len(l.f.b))
			}
			l.buffers[i] = l.f.b[off : off+size : off+size]
		case n > 0:
			l.buffers[i] = l.f.b[start : start+uint64(n) : start+uint64(n)]
		}
	}
	return nil
}

func (l *loader) loadOpcodes(root fbTable) error {
	codes, err := l.f.tables(root, slot(1), MaxOperatorCodes, "model.operator_codes")
	if err != nil {
		return err
	}
	if err := l.charge(int64(len(codes))*48, "model.operator_codes"); err != nil {
		return err
	}
	l.opcodes = make([]opcode, len(codes))
	for i, t := range codes {
		where := fmt.Sprintf("operator_codes[%d]", i)
		if err := l.f.scalars(t, where, slot(0), 1, slot(2), 4, slot(3), 4); err != nil {
			return err
		}
		var oc schema.OperatorCode
		oc.Init(l.f.b, t.pos)
		// Files before builtin_code existed have only the byte field; newer
		// ones set both, or builtin_code alone for codes above 127.
		code := max(schema.BuiltinOperator(oc.DeprecatedBuiltinCode()), oc.BuiltinCode())
		name, ok := schema.EnumNamesBuiltinOperator[code]
		if !ok {
			name = fmt.Sprintf("BUILTIN_%d", code)
		}
		o := opcode{name: name, builtin: code, version: oc.Version()}
		if code == schema.BuiltinOperatorCUSTOM {
			custom, err := l.str(t, slot(1), 1<<10, where+".custom_code")
			if err != nil {
				return err
			}
			if custom == "" {
				return malformed(where, "custom operator without a custom_code")
			}
			o.name, o.custom = custom, true
		}
		l.opcodes[i] = o
	}
	return nil
}

func (l *loader) subgraph(t fbTable, g *Subgraph, where string) error {
	var fg schema.SubGraph
	fg.Init(l.f.b, t.pos)
	var err error
	if g.Name, err = l.str(t, slot(4), 1<<16, where+".name"); err != nil {
		return err
	}
	tensors, err := l.f.tables(t, slot(0), MaxTensors, where+".tensors")
	if err != nil {
		return err
	}
	if l.tensors += len(tensors); l.tensors > MaxTensors {
		return tooLarge(where+".tensors", "%d tensors in the model, the limit is %d", l.tensors, MaxTensors)
	}
	if err := l.charge(int64(len(tensors))*200, where+".tensors"); err != nil {
		return err
	}
	g.Tensors = make([]Tensor, len(tensors))
	for i, tt := range tensors {
		if err := l.tensor(tt, &g.Tensors[i], fmt.Sprintf("%s.tensors[%d]", where, i)); err != nil {
			return err
		}
	}
	if g.Inputs, _, err = l.ints(t, slot(1), MaxOperands, where+".inputs", fg.Inputs); err != nil {
		return err
	}
	if g.Outputs, _, err = l.ints(t, slot(2), MaxOperands, where+".outputs", fg.Outputs); err != nil {
		return err
	}
	if err := checkIndices(g.Inputs, len(g.Tensors), false, where+".inputs"); err != nil {
		return err
	}
	if err := checkIndices(g.Outputs, len(g.Tensors), false, where+".outputs"); err != nil {
		return err
	}
	ops, err := l.f.tables(t, slot(3), MaxOperators, where+".operators")
	if err != nil {
		return err
	}
	if l.operators += len(ops); l.operators > MaxOperators {
		return tooLarge(where+".operators", "%d operators in the model, the limit is %d", l.operators, MaxOperators)
	}
	if err := l.charge(int64(len(ops))*160, where+".operators"); err != nil {
		return err
	}
	g.Operators = make([]Operator, len(ops))
	for i, ot := range ops {
		if err := l.operator(ot, g, &g.Operators[i], fmt.Sprintf("%s.operators[%d]", where, i)); err != nil {
			return err
		}
	}
	return nil
}

// checkIndices checks tensor indices: 0 <= i < n, or -1 when optional.
func checkIndices(idx []int, n int, optional bool, where string) error {
	for i, t := range idx {
		if t >= n || t < -1 || (t == -1 && !optional) {
			return malformed(fmt.Sprintf("%s[%d]", where, i), "tensor index %d out of range [0,%d)", t, n)
		}
	}
	return nil
}

func (l *loader) tensor(t fbTable, out *Tensor, where string) error {
	if err := l.f.scalars(t, where, slot(1), 1, slot(2), 4, slot(5), 1, slot(8), 1); err != nil {
		return err
	}
	var ft schema.Tensor
	ft.Init(l.f.b, t.pos)
	var err error
	if out.Name, err = l.str(t, slot(3), 1<<16, where+".name"); err != nil {
		return err
	}
	out.Type = TensorType(ft.Type())
	if out.Type < Float32 || out.Type > Int4 {
		return malformed(where+".type", "unknown tensor type %d", int8(out.Type))
	}
	out.IsVariable = ft.IsVariable()
	out.Sparse = l.f.field(t, slot(6)) != 0
	if out.Shape, _, err = l.ints(t, slot(0), MaxRank, where+".shape", ft.Shape); err != nil {
		return err
	}
	elems := int64(1)
	for i, d := range out.Shape {
		if d < 0 {
			return malformed(fmt.Sprintf("%s.shape[%d]", where, i), "negative dimension %d", d)
		}
		if elems *= int64(d); elems > MaxTensorBytes {
			return tooLarge(where+".shape", "%v has more than %d elements", out.Shape, int64(MaxTensorBytes))
		}
	}
	if size := int64(out.Type.Size()); elems*size > MaxTensorBytes {
		return tooLarge(where+".shape", "%s%v takes %d bytes, the limit is %d", out.Type, out.Shape, elems*size, int64(MaxTensorBytes))
	}
	if out.ShapeSignature, _, err = l.ints(t, slot(7), MaxRank, where+".shape_signature", ft.ShapeSignature); err != nil {
		return err
	}
	for i, d := range out.ShapeSignature {
		if d < -1 {
			return malformed(fmt.Sprintf("%s.shape_signature[%d]", where, i), "dimension %d", d)
		}
	}
	// Buffer 0 is by convention the empty sentinel of tensors without data.
	if b := ft.Buffer(); uint64(b) < uint64(len(l.buffers)) {
		out.Data = l.buffers[b]
	} else if b != 0 {
		return malformed(where+".buffer", "buffer index %d out of range [0,%d)", b, len(l.buffers))
	}
	if len(out.Data) == 0 {
		out.Data = nil
	} else if size := int64(out.Type.Size()); size > 0 && int64(len(out.Data)) != elems*size {
		return malformed(where, "%s%v needs %d bytes of data, its buffer has %d", out.Type, out.Shape, elems*size, len(out.Data))
	}
	q, ok, err := l.f.subTable(t, slot(4), where+".quantization")
	if err != nil || !ok {
		return err
	}
	out.Quantization, err = l.quantization(q, out, where+".quantization")
	return err
}

func (l *loader) quantization(t fbTable, tensor *Tensor, where string) (*Quantization, error) {
	if err := l.f.scalar(t, slot(6), 4, where); err != nil {
		return nil, err
	}
	var fq schema.QuantizationParameters
	fq.Init(l.f.b, t.pos)
	ns, _, err := l.f.vector(t, slot(2), 4, MaxChannels, where+".scale")
	if err != nil || ns == 0 {
		return nil, err // no scale: not quantized
	}
	nz, _, err := l.f.vector(t, slot(3), 8, MaxChannels, where+".zero_point")
	if err != nil {
		return nil, err
	}
	if nz != ns {
		return nil, malformed(where, "%d scales but %d zero points", ns, nz)
	}
	if err := l.charge(int64(ns)*12+64, where); err != nil {
		return nil, err
	}
	q := &Quantization{Scales: make([]float32, ns), ZeroPoints: make([]int64, ns), Dimension: int(fq.QuantizedDimension())}
	for i := range q.Scales {
		q.Scales[i] = fq.Scale(i)
		q.ZeroPoints[i] = fq.ZeroPoint(i)
	}
	if ns > 1 {
		if q.Dimension < 0 || q.Dimension >= len(tensor.Shape) {
			return nil, malformed(where+".quantized_dimension", "%d is not a dimension of shape %v", q.Dimension, tensor.Shape)
		}
		if d := tensor.Shape[q.Dimension]; d != ns {
			return nil, malformed(where, "%d scales for dimension %d of size %d", ns, q.Dimension, d)
		}
	}
	return q, nil
}

func (l *loader) operator(t fbTable, g *Subgraph, op *Operator, where string) error {
	if err := l.f.scalars(t, where, slot(0), 4, slot(3), 1, slot(6), 1, slot(9), 8, slot(10), 8); err != nil {
		return err
	}
	var fo schema.Operator
	fo.Init(l.f.b, t.pos)
	idx := fo.OpcodeIndex()
	if uint64(idx) >= uint64(len(l.opcodes)) {
		return malformed(where+".opcode_index", "%d out of range [0,%d)", idx, len(l.opcodes))
	}
	code := l.opcodes[idx]
	op.Op, op.Custom, op.Version = code.name, code.custom, code.version
	where += " (" + code.name + ")"
	var err error
	if op.Inputs, _, err = l.ints(t, slot(1), MaxOperands, where+".inputs", fo.Inputs); err != nil {
		return err
	}
	if op.Outputs, _, err = l.ints(t, slot(2), MaxOperands, where+".outputs", fo.Outputs); err != nil {
		return err
	}
	if op.Intermediates, _, err = l.ints(t, slot(8), MaxOperands, where+".intermediates", fo.Intermediates); err != nil {
		return err
	}
	for _, c := range []struct {
		idx  []int
		name string
	}{{op.Inputs, ".inputs"}, {op.Outputs, ".outputs"}, {op.Intermediates, ".intermediates"}} {
		if err := checkIndices(c.idx, len(g.Tensors), true, where+c.name); err != nil {
			return err
		}
	}
	if code.custom {
		n, start, err := l.f.vector(t, slot(5), 1, MaxFileBytes, where+".custom_options")
		if err != nil {
			return err
		}
		if n > 0 {
			op.CustomOptions = l.f.b[start : start+uint64(n) : start+uint64(n)]
		}
		if off, size := fo.LargeCustomOptionsOffset(), fo.LargeCustomOptionsSize(); off > 1 {
			if n > 0 {
				return malformed(where, "has both inline custom options and an offset")
			}
			if off > uint64(len(l.f.b)) || size > uint64(len(l.f.b))-off {
				return malformed(where+".large_custom_options_offset", "options at %d, size %d run past the end of the file", off, size)
			}
			op.CustomOptions = l.f.b[off : off+size : off+size]
		}
		if code.name == DetectionPostProcess {
			if fo.CustomOptionsFormat() != schema.CustomOptionsFormatFLEXBUFFERS {
				return malformed(where+".custom_options_format", "format %d, want FLEXBUFFERS", fo.CustomOptionsFormat())
			}
			opts, err := decodeDetectionOptions(op.CustomOptions)
			if err != nil {
				return fmt.Errorf("tflite: %s.custom_options: %w", where, err)
			}
			op.Options = opts
		}
		return nil
	}
	op.Options, err = l.builtinOptions(t, &fo, code.builtin, where+".builtin_options")
	return err
}

func (l *loader) signatureDefs(root fbTable, m *Model) ([]SignatureDef, error) {
	defs, err := l.f.tables(root, slot(7), MaxSignatureDefs, "model.signature_defs")
	if err != nil || len(defs) == 0 {
		return nil, err
	}
	if err := l.charge(int64(len(defs))*96, "model.signature_defs"); err != nil {
		return nil, err
	}
	out := make([]SignatureDef, len(defs))
	for i, t := range defs {
		where := fmt.Sprintf("signature_defs[%d]", i)
		if err := l.f.scalar(t, slot(4), 4, where); err != nil {
			return nil, err
		}
		var fs schema.SignatureDef
		fs.Init(l.f.b, t.pos)
		sd := &out[i]
		if sd.Key, err = l.str(t, slot(2), 1<<16, where+".signature_key"); err != nil {
			return nil, err
		}
		sg := fs.SubgraphIndex()
		if uint64(sg) >= uint64(len(m.Subgraphs)) {
			return nil, malformed(where+".subgraph_index", "%d out of range [0,%d)", sg, len(m.Subgraphs))
		}
		sd.Subgraph = int(sg)
		nt := len(m.Subgraphs[sg].Tensors)
		if sd.Inputs, err = l.tensorMaps(t, slot(0), nt, where+".inputs"); err != nil {
			return nil, err
		}
		if sd.Outputs, err = l.tensorMaps(t, slot(1), nt, where+".outputs"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (l *loader) tensorMaps(t fbTable, slot uint16, nTensors int, where string) ([]TensorMap, error) {
	maps, err := l.f.tables(t, slot, MaxOperands, where)
	if err != nil || len(maps) == 0 {
		return nil, err
	}
	if err := l.charge(int64(len(maps))*32, where); err != nil {
		return nil, err
	}
	out := make([]TensorMap, len(maps))
	for i, mt := range maps {
		w := fmt.Sprintf("%s[%d]", where, i)
		if err := l.f.scalar(mt, 6, 4, w); err != nil {
			return nil, err
		}
		var fm schema.TensorMap
		fm.Init(l.f.b, mt.pos)
		if out[i].Name, err = l.str(mt, 4, 1<<16, w+".name"); err != nil {
			return nil, err
		}
		ti := fm.TensorIndex()
		if uint64(ti) >= uint64(nTensors) {
			return nil, malformed(w+".tensor_index", "%d out of range [0,%d)", ti, nTensors)
		}
		out[i].Tensor = int(ti)
	}
	return out, nil
}

func (l *loader) metadata(root fbTable) ([]Metadata, error) {
	mds, err := l.f.tables(root, slot(6), MaxMetadata, "model.metadata")
	if err != nil || len(mds) == 0 {
		return nil, err
	}
	if err := l.charge(int64(len(mds))*48, "model.metadata"); err != nil {
		return nil, err
	}
	out := make([]Metadata, len(mds))
	for i, t := range mds {
		where := fmt.Sprintf("metadata[%d]", i)
		if err := l.f.scalar(t, slot(1), 4, where); err != nil {
			return nil, err
		}
		var fm schema.Metadata
		fm.Init(l.f.b, t.pos)
		if out[i].Name, err = l.str(t, slot(0), 1<<16, where+".name"); err != nil {
			return nil, err
		}
		b := fm.Buffer()
		if uint64(b) >= uint64(len(l.buffers)) {
			return nil, malformed(where+".buffer", "buffer index %d out of range [0,%d)", b, len(l.buffers))
		}
		out[i].Data = l.buffers[b]
	}
	return out, nil
}
