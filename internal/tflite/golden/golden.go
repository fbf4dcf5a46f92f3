package golden

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Kind says how a model's outputs are read.
type Kind string

// The kinds of model in the golden set.
const (
	KindClassification Kind = "classification" // output 0 holds one score per class; Top5 is set
	KindDetection      Kind = "detection"      // SSD post-processed boxes, classes, scores, count; Detections is set
	KindRegression     Kind = "regression"     // plain values
)

// DType is a tensor element type as the golden files name it.
type DType string

// The element types golden files use.
const (
	Float32 DType = "float32"
	Uint8   DType = "uint8"
	Int8    DType = "int8"
	Int16   DType = "int16"
	Int32   DType = "int32"
)

// Size is the number of bytes of one element, 0 for an unknown type.
func (d DType) Size() int {
	switch d {
	case Uint8, Int8:
		return 1
	case Int16:
		return 2
	case Float32, Int32:
		return 4
	}
	return 0
}

// intRange is the range of an integer type's values.
func (d DType) intRange() (lo, hi int64, ok bool) {
	switch d {
	case Uint8:
		return 0, math.MaxUint8, true
	case Int8:
		return math.MinInt8, math.MaxInt8, true
	case Int16:
		return math.MinInt16, math.MaxInt16, true
	case Int32:
		return math.MinInt32, math.MaxInt32, true
	}
	return 0, 0, false
}

// Quantization maps a quantised value q to the real number Scale*(q-ZeroPoint).
type Quantization struct {
	Scale     float32
	ZeroPoint int64
}

// Dequantize returns the real number that q stands for.
func (q Quantization) Dequantize(v int64) float64 {
	return float64(q.Scale) * float64(v-q.ZeroPoint)
}

// TensorInfo describes a tensor: its name in the model, shape, element type and,
// for quantised tensors, the quantisation (nil for float tensors).
type TensorInfo struct {
	Name         string
	Shape        []int
	DType        DType
	Quantization *Quantization
}

// NumElements is the product of the shape.
func (t TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Tensor is an output tensor with its values: Ints for integer (quantised)
// types, Floats for float32.
type Tensor struct {
	TensorInfo
	Ints   []int64
	Floats []float32
}

// Input is the input tensor of a case. Data holds the exact bytes fed to the
// reference runtime (row-major, little-endian).
type Input struct {
	TensorInfo
	File   string // the .input.bin file name, beside the case's JSON
	SHA256 string
	Source InputSource
	Data   []byte
}

// Float32s decodes Data of a float32 input.
func (in Input) Float32s() ([]float32, error) {
	if in.DType != Float32 {
		return nil, fmt.Errorf("input %s is %s, not float32", in.Name, in.DType)
	}
	out := make([]float32, len(in.Data)/4)
	for i := range out {
		b := in.Data[4*i:]
		out[i] = math.Float32frombits(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
	}
	return out, nil
}

// InputSource says how an input tensor was made.
type InputSource struct {
	Kind string // "image", "random" or "fixed"

	// image: the picture, its origin and every preprocessing step.
	Image        string
	ImageOrigin  string // module@version/path or ../shared/path
	ImageSHA256  string
	ImageMode    string // PIL mode of the file as read
	ImageSize    []int  // width, height of the file
	Steps        []string
	ResizeFilter string // e.g. PIL.Image.BILINEAR (antialiased when shrinking)
	PILVersion   string

	// random: the numpy expression that drew it.
	Seed         int
	Generator    string
	NumpyVersion string

	// fixed: the values by hand.
	Values []float32
}

// Class is one entry of a classification's top 5, best first (ties by lower index).
type Class struct {
	Index     int
	Label     string  // "" when the model has no label file
	Score     float32 // dequantised for quantised outputs
	Quantized *int64  // the raw output value for quantised outputs
}

// Detection is one post-processed SSD detection.
type Detection struct {
	Box   [4]float32 // ymin, xmin, ymax, xmax, normalised to the input image
	Class int
	Label string
	Score float32
}

// Model names the model file a case ran.
type Model struct {
	File   string
	SHA256 string
	Source ModelSource
}

// ModelSource is where a model file comes from: a path under ../shared
// (Shared), or a file inside a Go module (Module, Version, Path).
type ModelSource struct {
	Shared  string
	Module  string
	Version string
	Path    string
}

func (s ModelSource) String() string {
	if s.Shared != "" {
		return "../shared/" + s.Shared
	}
	return s.Module + "@" + s.Version + "/" + s.Path
}

// Reference names the runtime that produced the outputs.
type Reference struct {
	Runtime        string
	Backend        string
	LibraryVersion string
	DebianPackages map[string]string
}

// Case is one golden case: a model, an input and what the reference runtime
// answered.
type Case struct {
	ModelName string // the directory under the golden root
	Name      string // the case name, e.g. "cat" or "random1"
	File      string // path of the case's JSON file
	Kind      Kind
	Model     Model
	Reference Reference
	Input     Input
	Outputs   []Tensor

	Top5     []Class // classification only
	Top1Ties []int   // classification: every index whose score equals the best one

	DetectionCount int         // detection only
	Detections     []Detection // detection only

	// TFLite holds TensorFlow Lite's own reference-kernel outputs for the same
	// input (<case>.tflite_ref.json, written by crosscheck.py), nil when absent.
	// Where Arm NN's quantised rounding differs from TFLite's, these are the
	// values an interpreter that follows TFLite reproduces.
	TFLite *TFLiteOutputs
}

// TFLiteOutputs are the outputs of TensorFlow Lite's reference kernels
// (LiteRT with OpResolverType.BUILTIN_REF) for a case's input.
type TFLiteOutputs struct {
	Runtime    string // "LiteRT"
	Version    string
	OpResolver string // "BUILTIN_REF"
	Outputs    []Tensor
}

// ID is "<model>/<case>", unique in a golden directory.
func (c Case) ID() string { return c.ModelName + "/" + c.Name }

// Load reads every case under dir (dir/<model>/<case>.json with its
// .input.bin), sorted by model and case name.
func Load(dir string) ([]Case, error) {
	all, err := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	if err != nil {
		return nil, fmt.Errorf("golden: %s: %w", dir, err)
	}
	var files []string
	for _, f := range all {
		if !strings.HasSuffix(f, ".tflite_ref.json") {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("golden: %s: no <model>/<case>.json files", dir)
	}
	sort.Strings(files)
	cases := make([]Case, 0, len(files))
	for _, f := range files {
		c, err := LoadCase(f)
		if err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	return cases, nil
}

// LoadCase reads one case's JSON file and the input file beside it.
func LoadCase(file string) (Case, error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return Case{}, fmt.Errorf("golden: %w", err)
	}
	var raw rawCase
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Case{}, fmt.Errorf("golden: %s: %w", file, jsonWhere(text, err))
	}
	c, err := raw.convert()
	if err != nil {
		return Case{}, fmt.Errorf("golden: %s: %w", file, err)
	}
	c.File = file
	c.ModelName = filepath.Base(filepath.Dir(file))
	if want := strings.TrimSuffix(filepath.Base(file), ".json"); c.Name != want {
		return Case{}, fmt.Errorf("golden: %s: case: %q, the file name says %q", file, c.Name, want)
	}
	if err := c.readInput(filepath.Dir(file)); err != nil {
		return Case{}, fmt.Errorf("golden: %s: %w", file, err)
	}
	ref := strings.TrimSuffix(file, ".json") + ".tflite_ref.json"
	if _, err := os.Stat(ref); err == nil {
		if c.TFLite, err = loadTFLiteOutputs(ref, c.Outputs); err != nil {
			return Case{}, err
		}
	}
	return c, nil
}

type rawTFLiteOutputs struct {
	Runtime    string      `json:"runtime"`
	Version    string      `json:"version"`
	OpResolver string      `json:"op_resolver"`
	Case       string      `json:"case"`
	Outputs    []rawTensor `json:"outputs"`
}

// loadTFLiteOutputs reads a <case>.tflite_ref.json; its tensors must match the
// golden outputs in name, shape, dtype and quantisation.
func loadTFLiteOutputs(file string, golden []Tensor) (*TFLiteOutputs, error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("golden: %w", err)
	}
	var raw rawTFLiteOutputs
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("golden: %s: %w", file, jsonWhere(text, err))
	}
	out := &TFLiteOutputs{Runtime: raw.Runtime, Version: raw.Version, OpResolver: raw.OpResolver}
	if len(raw.Outputs) != len(golden) {
		return nil, fmt.Errorf("golden: %s: outputs: %d tensors, the case has %d", file, len(raw.Outputs), len(golden))
	}
	for i, r := range raw.Outputs {
		field := fmt.Sprintf("outputs[%d]", i)
		t, err := r.convert(field)
		if err != nil {
			return nil, fmt.Errorf("golden: %s: %w", file, err)
		}
		g := golden[i]
		if t.Name != g.Name || !slices.Equal(t.Shape, g.Shape) || t.DType != g.DType ||
			(t.Quantization == nil) != (g.Quantization == nil) ||
			(t.Quantization != nil && *t.Quantization != *g.Quantization) {
			return nil, fmt.Errorf("golden: %s: %s: %s %v %s does not match the case's %s %v %s",
				file, field, t.Name, t.Shape, t.DType, g.Name, g.Shape, g.DType)
		}
		out.Outputs = append(out.Outputs, t)
	}
	return out, nil
}

// jsonWhere adds the line of a JSON syntax or type error.
func jsonWhere(text []byte, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(text)) {
		return err
	}
	return fmt.Errorf("line %d: %w", 1+bytes.Count(text[:off], []byte("\n")), err)
}

func (c *Case) readInput(dir string) error {
	in := &c.Input
	if in.File == "" || filepath.Base(in.File) != in.File {
		return fmt.Errorf("input.file: %q is not a file name beside the JSON", in.File)
	}
	data, err := os.ReadFile(filepath.Join(dir, in.File))
	if err != nil {
		return fmt.Errorf("input.file: %w", err)
	}
	if want := in.NumElements() * in.DType.Size(); len(data) != want {
		return fmt.Errorf("input.file: %s has %d bytes, shape %v of %s needs %d", in.File, len(data), in.Shape, in.DType, want)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != in.SHA256 {
		return fmt.Errorf("input.sha256: %s has sha256 %s, the case says %s", in.File, got, in.SHA256)
	}
	in.Data = data
	return nil
}

// The JSON form, numbers kept as text so float32 values parse exactly.

type rawCase struct {
	Model          rawModel       `json:"model"`
	Reference      rawReference   `json:"reference"`
	Case           string         `json:"case"`
	Kind           Kind           `json:"kind"`
	Input          rawInput       `json:"input"`
	Outputs        []rawTensor    `json:"outputs"`
	Top5           []rawClass     `json:"top5"`
	Top1Ties       []int          `json:"top1_ties"`
	DetectionCount *int           `json:"detection_count"`
	Detections     []rawDetection `json:"detections"`
}

type rawModel struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	Source struct {
		Shared  string `json:"shared"`
		Module  string `json:"module"`
		Version string `json:"version"`
		Path    string `json:"path"`
	} `json:"source"`
}

type rawReference struct {
	Runtime        string            `json:"runtime"`
	Backend        string            `json:"backend"`
	LibraryVersion string            `json:"library_version"`
	DebianPackages map[string]string `json:"debian_packages"`
}

type rawQuant struct {
	Scale     json.Number `json:"scale"`
	ZeroPoint json.Number `json:"zero_point"`
}

type rawTensorInfo struct {
	Name         string    `json:"name"`
	Shape        []int     `json:"shape"`
	DType        DType     `json:"dtype"`
	Quantization *rawQuant `json:"quantization"`
}

type rawTensor struct {
	rawTensorInfo
	Values []json.Number `json:"values"`
}

type rawInput struct {
	rawTensorInfo
	File   string         `json:"file"`
	SHA256 string         `json:"sha256"`
	Source rawInputSource `json:"source"`
}

type rawInputSource struct {
	Kind         string        `json:"kind"`
	Image        string        `json:"image"`
	ImageOrigin  string        `json:"image_origin"`
	ImageSHA256  string        `json:"image_sha256"`
	ImageMode    string        `json:"image_mode"`
	ImageSize    []int         `json:"image_size"`
	Steps        []string      `json:"steps"`
	ResizeFilter string        `json:"resize_filter"`
	PILVersion   string        `json:"pil_version"`
	Seed         int           `json:"seed"`
	Generator    string        `json:"generator"`
	NumpyVersion string        `json:"numpy_version"`
	Values       []json.Number `json:"values"`
}

type rawClass struct {
	Index     int          `json:"index"`
	Label     *string      `json:"label"`
	Score     json.Number  `json:"score"`
	Quantized *json.Number `json:"quantized"`
}

type rawDetection struct {
	Box   []json.Number `json:"box"`
	Class int           `json:"class"`
	Label *string       `json:"label"`
	Score json.Number   `json:"score"`
}

func parseF32(n json.Number, field string) (float32, error) {
	v, err := strconv.ParseFloat(string(n), 32)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	return float32(v), nil
}

func parseInt(n json.Number, field string) (int64, error) {
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	return v, nil
}

func (r rawTensorInfo) convert(field string) (TensorInfo, error) {
	t := TensorInfo{Name: r.Name, Shape: r.Shape, DType: r.DType}
	if r.Name == "" {
		return t, fmt.Errorf("%s.name: missing", field)
	}
	if t.DType.Size() == 0 {
		return t, fmt.Errorf("%s.dtype: %q is none of float32, uint8, int8, int16, int32", field, r.DType)
	}
	if len(r.Shape) == 0 {
		return t, fmt.Errorf("%s.shape: missing", field)
	}
	for i, d := range r.Shape {
		if d <= 0 {
			return t, fmt.Errorf("%s.shape[%d]: %d is not positive", field, i, d)
		}
	}
	if r.Quantization != nil {
		scale, err := parseF32(r.Quantization.Scale, field+".quantization.scale")
		if err != nil {
			return t, err
		}
		if !(scale > 0) || math.IsInf(float64(scale), 0) {
			return t, fmt.Errorf("%s.quantization.scale: %v is not a positive number", field, scale)
		}
		zp, err := parseInt(r.Quantization.ZeroPoint, field+".quantization.zero_point")
		if err != nil {
			return t, err
		}
		t.Quantization = &Quantization{Scale: scale, ZeroPoint: zp}
	}
	return t, nil
}

func (r rawTensor) convert(field string) (Tensor, error) {
	info, err := r.rawTensorInfo.convert(field)
	if err != nil {
		return Tensor{}, err
	}
	t := Tensor{TensorInfo: info}
	if len(r.Values) != info.NumElements() {
		return t, fmt.Errorf("%s.values: %d values, shape %v has %d elements", field, len(r.Values), info.Shape, info.NumElements())
	}
	if info.DType == Float32 {
		t.Floats = make([]float32, len(r.Values))
		for i, v := range r.Values {
			if t.Floats[i], err = parseF32(v, fmt.Sprintf("%s.values[%d]", field, i)); err != nil {
				return t, err
			}
		}
		return t, nil
	}
	lo, hi, _ := info.DType.intRange()
	t.Ints = make([]int64, len(r.Values))
	for i, v := range r.Values {
		f := fmt.Sprintf("%s.values[%d]", field, i)
		if t.Ints[i], err = parseInt(v, f); err != nil {
			return t, err
		}
		if t.Ints[i] < lo || t.Ints[i] > hi {
			return t, fmt.Errorf("%s: %d is outside %s", f, t.Ints[i], info.DType)
		}
	}
	return t, nil
}

func (r rawCase) convert() (Case, error) {
	c := Case{
		Name: r.Case,
		Kind: r.Kind,
		Model: Model{File: r.Model.File, SHA256: r.Model.SHA256, Source: ModelSource{
			Shared: r.Model.Source.Shared, Module: r.Model.Source.Module,
			Version: r.Model.Source.Version, Path: r.Model.Source.Path,
		}},
		Reference: Reference(r.Reference),
		Top1Ties:  r.Top1Ties,
	}
	if c.Name == "" {
		return c, errors.New("case: missing")
	}
	if len(c.Model.SHA256) != 64 {
		return c, fmt.Errorf("model.sha256: %q is not 64 hex digits", c.Model.SHA256)
	}
	if s := c.Model.Source; (s.Shared == "") == (s.Module == "" || s.Version == "" || s.Path == "") {
		return c, errors.New("model.source: needs either shared or module, version and path")
	}
	info, err := r.Input.rawTensorInfo.convert("input")
	if err != nil {
		return c, err
	}
	c.Input = Input{TensorInfo: info, File: r.Input.File, SHA256: r.Input.SHA256}
	if c.Input.Source, err = r.Input.Source.convert(); err != nil {
		return c, err
	}
	if len(r.Outputs) == 0 {
		return c, errors.New("outputs: none")
	}
	for i, o := range r.Outputs {
		t, err := o.convert(fmt.Sprintf("outputs[%d]", i))
		if err != nil {
			return c, err
		}
		c.Outputs = append(c.Outputs, t)
	}
	switch c.Kind {
	case KindClassification:
		return c, c.convertTop5(r.Top5)
	case KindDetection:
		return c, c.convertDetections(r.DetectionCount, r.Detections)
	case KindRegression:
		return c, nil
	}
	return c, fmt.Errorf("kind: %q is none of classification, detection, regression", r.Kind)
}

func (s rawInputSource) convert() (InputSource, error) {
	out := InputSource{
		Kind: s.Kind, Image: s.Image, ImageOrigin: s.ImageOrigin, ImageSHA256: s.ImageSHA256,
		ImageMode: s.ImageMode, ImageSize: s.ImageSize, Steps: s.Steps, ResizeFilter: s.ResizeFilter,
		PILVersion: s.PILVersion, Seed: s.Seed, Generator: s.Generator, NumpyVersion: s.NumpyVersion,
	}
	switch s.Kind {
	case "image":
		if s.Image == "" || s.ResizeFilter == "" || len(s.Steps) == 0 {
			return out, errors.New("input.source: an image source needs image, resize_filter and steps")
		}
	case "random":
		if s.Generator == "" {
			return out, errors.New("input.source.generator: missing")
		}
	case "fixed":
		for i, v := range s.Values {
			f, err := parseF32(v, fmt.Sprintf("input.source.values[%d]", i))
			if err != nil {
				return out, err
			}
			out.Values = append(out.Values, f)
		}
	default:
		return out, fmt.Errorf("input.source.kind: %q is none of image, random, fixed", s.Kind)
	}
	return out, nil
}

func (c *Case) convertTop5(raw []rawClass) error {
	if len(raw) == 0 {
		return errors.New("top5: missing for a classification")
	}
	scores := c.Outputs[0]
	for i, r := range raw {
		f := fmt.Sprintf("top5[%d]", i)
		if r.Index < 0 || r.Index >= scores.NumElements() {
			return fmt.Errorf("%s.index: %d is outside output %s", f, r.Index, scores.Name)
		}
		score, err := parseF32(r.Score, f+".score")
		if err != nil {
			return err
		}
		cl := Class{Index: r.Index, Score: score}
		if r.Label != nil {
			cl.Label = *r.Label
		}
		if r.Quantized != nil {
			q, err := parseInt(*r.Quantized, f+".quantized")
			if err != nil {
				return err
			}
			if scores.Ints == nil || scores.Ints[r.Index] != q {
				return fmt.Errorf("%s.quantized: %d is not outputs[0].values[%d]", f, q, r.Index)
			}
			cl.Quantized = &q
		} else if scores.Floats == nil || scores.Floats[r.Index] != score {
			return fmt.Errorf("%s.score: %v is not outputs[0].values[%d]", f, score, r.Index)
		}
		c.Top5 = append(c.Top5, cl)
	}
	return nil
}

func (c *Case) convertDetections(count *int, raw []rawDetection) error {
	if count == nil {
		return errors.New("detection_count: missing for a detection")
	}
	if *count != len(raw) {
		return fmt.Errorf("detection_count: %d, but %d detections", *count, len(raw))
	}
	c.DetectionCount = *count
	for i, r := range raw {
		f := fmt.Sprintf("detections[%d]", i)
		if len(r.Box) != 4 {
			return fmt.Errorf("%s.box: %d values, want ymin, xmin, ymax, xmax", f, len(r.Box))
		}
		d := Detection{Class: r.Class}
		for j, v := range r.Box {
			var err error
			if d.Box[j], err = parseF32(v, fmt.Sprintf("%s.box[%d]", f, j)); err != nil {
				return err
			}
		}
		var err error
		if d.Score, err = parseF32(r.Score, f+".score"); err != nil {
			return err
		}
		if r.Label != nil {
			d.Label = *r.Label
		}
		c.Detections = append(c.Detections, d)
	}
	return nil
}
