package detect

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/edgeflow/edgeflow/internal/tflite"
)

// Result is the JSON payload of an inference message (kind inference), one
// per input message. Which of Classes, Detections, Score and Outputs is set
// depends on Kind; docs/detect.md shows each.
type Result struct {
	Kind   string    `json:"kind"` // classify, ssd, score or raw
	Input  InputInfo `json:"input"`
	Model  ModelInfo `json:"model"`
	Time   time.Time `json:"ts"`           // when the inference finished
	Micros int64     `json:"inference_us"` // time spent preprocessing and running the model

	Classes    []Class     `json:"classes,omitzero"`    // classify: best first
	Detections []Detection `json:"detections,omitzero"` // ssd: best first
	Score      *float64    `json:"score,omitempty"`     // score
	Threshold  *float64    `json:"threshold,omitempty"` // score
	Anomaly    *bool       `json:"anomaly,omitempty"`   // score: Score >= Threshold
	Outputs    []RawOutput `json:"outputs,omitzero"`    // raw
}

// InputInfo says what the result is about.
type InputInfo struct {
	Message  string `json:"message"`            // the input message's UUID
	Node     string `json:"node,omitempty"`     // edgeflow-node of the input
	Stream   string `json:"stream,omitempty"`   // edgeflow-stream of the input
	Name     string `json:"name,omitempty"`     // the picture's name (edgeflow-image-name)
	Format   string `json:"format,omitempty"`   // jpeg, png or bmp
	Width    int    `json:"width,omitempty"`    // the picture's size before resizing
	Height   int    `json:"height,omitempty"`   //
	Readings int    `json:"readings,omitempty"` // readings input: how many filled the tensor
}

// ModelInfo names the model that produced a result.
type ModelInfo struct {
	File    string `json:"file,omitempty"` // the model file's name; empty for a model given to SwapModel
	SHA256  string `json:"sha256"`
	Version int    `json:"version"` // 1 for the model loaded at start, +1 for each swap
}

// Class is one classification result.
type Class struct {
	Index int     `json:"index"`
	Label string  `json:"label,omitempty"`
	Score float64 `json:"score"` // dequantised
}

// Detection is one SSD detection. The box is normalised to the picture
// (0…1, possibly a little outside), so it holds for the original size.
type Detection struct {
	Box   Box     `json:"box"`
	Class int     `json:"class"`
	Label string  `json:"label,omitempty"`
	Score float64 `json:"score"`
}

// Box is a detection's bounding box as fractions of the picture's height
// (Y) and width (X).
type Box struct {
	YMin float64 `json:"ymin"`
	XMin float64 `json:"xmin"`
	YMax float64 `json:"ymax"`
	XMax float64 `json:"xmax"`
}

// RawOutput is one output tensor, dequantised.
type RawOutput struct {
	Name   string    `json:"name"`
	Type   string    `json:"type"`
	Shape  []int     `json:"shape"`
	Values []float64 `json:"values"`
}

// realValues appends t's values as real numbers (dequantised) to dst.
func realValues(t *tflite.Tensor, dst []float32) []float32 {
	dst = dst[:0]
	scale, zp, quantized := t.ScaleZeroPoint()
	deq := func(q int32) float32 {
		if quantized {
			return scale * float32(q-zp)
		}
		return float32(q)
	}
	switch t.Type {
	case tflite.Float32:
		dst = append(dst, t.Float32s()...)
	case tflite.Uint8:
		for _, q := range t.UInt8s() {
			dst = append(dst, deq(int32(q)))
		}
	case tflite.Int8:
		for _, q := range t.Int8s() {
			dst = append(dst, deq(int32(q)))
		}
	case tflite.Int32:
		for _, q := range t.Int32s() {
			dst = append(dst, deq(q))
		}
	case tflite.Int64:
		for _, q := range t.Int64s() {
			dst = append(dst, float32(q))
		}
	}
	return dst
}

// readOutputs turns the interpreter's outputs into res according to cfg.
func (d *Detector) readOutputs(r *runner, set *modelSet, res *Result) error {
	ip := r.ip
	cfg := d.cfg
	switch cfg.Output {
	case OutputClassify:
		r.outReal = realValues(ip.Output(0), r.outReal)
		res.Classes, r.order = topClasses(r.outReal, cfg.TopK, cfg.Threshold, set.labels, r.order)
	case OutputSSD:
		for i := range r.ssd {
			r.ssd[i] = realValues(ip.Output(i), r.ssd[i])
		}
		boxes, classes, scores, count := r.ssd[0], r.ssd[1], r.ssd[2], r.ssd[3]
		n := len(scores)
		if len(count) > 0 && count[0] >= 0 && int(count[0]) < n {
			n = int(count[0])
		}
		res.Detections = []Detection{}
		for i := range n {
			if float64(scores[i]) < cfg.Threshold {
				continue
			}
			c := int(classes[i])
			res.Detections = append(res.Detections, Detection{
				Box:   Box{YMin: f(boxes[4*i]), XMin: f(boxes[4*i+1]), YMax: f(boxes[4*i+2]), XMax: f(boxes[4*i+3])},
				Class: c, Label: set.labels.label(c, true), Score: f(scores[i]),
			})
		}
		slices.SortStableFunc(res.Detections, func(a, b Detection) int { return cmp.Compare(b.Score, a.Score) })
		if cfg.TopK > 0 && len(res.Detections) > cfg.TopK {
			res.Detections = res.Detections[:cfg.TopK]
		}
	case OutputScore:
		r.outReal = realValues(ip.Output(0), r.outReal)
		var score float64
		if cfg.Score == ScoreMSE {
			if len(r.outReal) != len(r.inReal) {
				return fmt.Errorf("score mse: output has %d values, input %d", len(r.outReal), len(r.inReal))
			}
			for i, v := range r.outReal {
				e := float64(v) - float64(r.inReal[i])
				score += float64(e * e) // rounded product: the same bits on every architecture
			}
			score /= float64(len(r.outReal))
		} else {
			score = f(r.outReal[0])
		}
		th := cfg.Threshold
		anomaly := score >= th
		res.Score, res.Threshold, res.Anomaly = &score, &th, &anomaly
	case OutputRaw:
		for i := range ip.NumOutputs() {
			o := ip.Output(i)
			vals := realValues(o, nil)
			out := RawOutput{Name: o.Name, Type: o.Type.String(), Shape: slices.Clone(o.Shape), Values: make([]float64, len(vals))}
			for j, v := range vals {
				out.Values[j] = f(v)
			}
			res.Outputs = append(res.Outputs, out)
		}
	}
	return nil
}

// f widens a float32 to the float64 with the shortest decimal spelling that
// reads back as the same float32, so JSON shows 0.765625, not 0.7656250000001.
func f(v float32) float64 {
	x, _ := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
	return x
}

// topClasses returns the k best classes scoring at least threshold, best
// first, ties by lower index (k 0: all); idx is scratch memory, returned for
// reuse.
func topClasses(scores []float32, k int, threshold float64, labels labelSet, idx []int) ([]Class, []int) {
	idx = idx[:0]
	for i, s := range scores {
		if float64(s) >= threshold {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	if k > 0 && len(idx) > k {
		idx = idx[:k]
	}
	out := make([]Class, len(idx))
	for j, i := range idx {
		out[j] = Class{Index: i, Label: labels.label(i, false), Score: f(scores[i])}
	}
	return out, idx
}
