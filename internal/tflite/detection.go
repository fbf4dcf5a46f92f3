package tflite

import (
	"fmt"
	"math"
)

// TFLite_Detection_PostProcess: SSD box decoding and non-maximum suppression,
// as TFLite's detection_postprocess.cc. Inputs: box encodings [1, boxes, 4]
// (y, x, h, w relative to the anchor), class scores [1, boxes, classes+1]
// (the first column is the background), anchors [boxes, 4] (y, x, h, w);
// 8-bit inputs are dequantized. Outputs: boxes [1, n, 4] (ymin, xmin, ymax,
// xmax), classes [1, n], scores [1, n], count [1], n = MaxDetections ·
// MaxClassesPerDetection; unused entries are zero.
//
// The default (fast) path keeps each anchor's best classes, suppresses over
// the anchors' maximum scores once, and reports the survivors' top classes.
// UseRegularNMS suppresses per class (DetectionsPerClass each) and keeps the
// MaxDetections best overall. Sorts are stable (ties keep the lower index),
// as TFLite's DecreasingArgSort; its partial sort of classes when
// MaxClassesPerDetection > 1 is not, so tied classes may be ordered
// differently there.
type detection struct {
	o                    DetectionPostProcessOptions
	numBoxes             int
	numClassesWithBg     int
	labelOffset          int
	boxesIn, scoresIn    *Tensor
	anchors              [][4]float32
	boxesF, scoresF      []float32 // dequantized inputs
	decoded              [][4]float32
	outBoxes, outClasses []float32
	outScores, outCount  []float32
	// scratch
	maxScores   []float32
	classOrder  []int32 // per box, its classes best first (numCategories of them)
	keepIdx     []int32
	keepScores  []float32
	sorted      []int32
	sortTmp     []int32
	active      []bool
	selected    []int32
	classScores []float32
	// regular NMS
	candIdx    []int32
	candScores []float32
	candTmpI   []int32
	candTmpS   []float32
}

func (ip *Interpreter) prepareDetection(op *Operator) (kernel, error) {
	o, ok := op.Options.(*DetectionPostProcessOptions)
	if !ok {
		return nil, fmt.Errorf("no decoded options: %w", ErrInterpreter)
	}
	boxes, err := ip.input(op, 0)
	if err != nil {
		return nil, err
	}
	scores, err := ip.input(op, 1)
	if err != nil {
		return nil, err
	}
	anchors, err := ip.input(op, 2)
	if err != nil {
		return nil, err
	}
	if err := wantRank("box encodings", boxes, 3); err != nil {
		return nil, err
	}
	if err := wantRank("class predictions", scores, 3); err != nil {
		return nil, err
	}
	n := boxes.Shape[1]
	if boxes.Shape[2] < 4 || scores.Shape[1] != n || anchors.NumElements() != n*4 {
		return nil, errTensor("box encodings", boxes, "want [1 %d 4], scores [1 %d classes] and anchors [%d 4]", n, n, n)
	}
	if o.NumClasses < 1 || o.MaxDetections < 1 || o.MaxClassesPerDetection < 1 || scores.Shape[2] < o.NumClasses {
		return nil, fmt.Errorf("options %+v do not fit class predictions %v: %w", *o, scores.Shape, ErrInterpreter)
	}
	if !(o.YScale > 0 && o.XScale > 0 && o.HScale > 0 && o.WScale > 0) {
		return nil, fmt.Errorf("box scales %g %g %g %g must be positive: %w", o.YScale, o.XScale, o.HScale, o.WScale, ErrInterpreter)
	}
	if anchors.Data == nil {
		return nil, errTensor("anchors", anchors, "want constant data")
	}
	k := &detection{o: *o, numBoxes: n, numClassesWithBg: scores.Shape[2], boxesIn: boxes, scoresIn: scores}
	k.labelOffset = k.numClassesWithBg - o.NumClasses
	a, err := dequantized("anchors", anchors)
	if err != nil {
		return nil, err
	}
	k.anchors = make([][4]float32, n)
	for i := range k.anchors {
		copy(k.anchors[i][:], a[4*i:])
	}
	if boxes.Shape[2] != 4 {
		return nil, errTensor("box encodings", boxes, "want 4 values per box")
	}
	k.boxesF = make([]float32, boxes.NumElements())
	k.scoresF = make([]float32, scores.NumElements())
	if _, err := dequantizer("box encodings", boxes); err != nil {
		return nil, err
	}
	if _, err := dequantizer("class predictions", scores); err != nil {
		return nil, err
	}
	k.decoded = make([][4]float32, n)
	outs := make([][]float32, 4)
	for i := range outs {
		t, err := ip.output(op, i)
		if err != nil {
			return nil, err
		}
		if outs[i], err = floats(fmt.Sprintf("outputs[%d]", i), t); err != nil {
			return nil, err
		}
	}
	k.outBoxes, k.outClasses, k.outScores, k.outCount = outs[0], outs[1], outs[2], outs[3]
	cats := min(o.MaxClassesPerDetection, o.NumClasses)
	k.maxScores = make([]float32, n)
	k.classOrder = make([]int32, n*cats)
	k.keepIdx = make([]int32, n)
	k.keepScores = make([]float32, n)
	k.sorted = make([]int32, n)
	k.sortTmp = make([]int32, n+o.MaxDetections)
	k.active = make([]bool, n)
	k.selected = make([]int32, 0, n)
	k.classScores = make([]float32, n)
	k.candIdx = make([]int32, 0, n+o.MaxDetections)
	k.candScores = make([]float32, 0, n+o.MaxDetections)
	k.candTmpI = make([]int32, n+o.MaxDetections)
	k.candTmpS = make([]float32, n+o.MaxDetections)
	return k, nil
}

// dequantizer checks that t is float32 or per-tensor quantized 8-bit.
func dequantizer(role string, t *Tensor) (func(i int) float32, error) {
	switch t.Type {
	case Float32:
		f := t.Float32s()
		return func(i int) float32 { return f[i] }, nil
	case Uint8, Int8:
		s, zp, err := quantParams(role, t)
		if err != nil {
			return nil, err
		}
		signed := t.Type == Int8
		return func(i int) float32 {
			v := int32(t.Data[i])
			if signed {
				v = int32(int8(t.Data[i]))
			}
			return s * float32(v-zp)
		}, nil
	}
	return nil, errTensor(role, t, "want float32, uint8 or int8")
}

// dequantized returns a constant tensor's values as float32.
func dequantized(role string, t *Tensor) ([]float32, error) {
	f, err := dequantizer(role, t)
	if err != nil {
		return nil, err
	}
	out := make([]float32, t.NumElements())
	for i := range out {
		out[i] = f(i)
	}
	return out, nil
}

// dequantizeInto writes t's values as float32 into dst without allocating.
func dequantizeInto(dst []float32, t *Tensor) {
	switch t.Type {
	case Float32:
		copy(dst, t.Float32s())
	case Uint8, Int8:
		s, zp, _ := t.ScaleZeroPoint()
		for i := range dst {
			v := int32(t.Data[i])
			if t.Type == Int8 {
				v = int32(int8(t.Data[i]))
			}
			dst[i] = s * float32(v-zp)
		}
	}
}

func (k *detection) eval() error {
	dequantizeInto(k.boxesF, k.boxesIn)
	dequantizeInto(k.scoresF, k.scoresIn)
	k.decode()
	clear(k.outBoxes)
	clear(k.outClasses)
	clear(k.outScores)
	clear(k.outCount)
	if k.o.UseRegularNMS {
		k.regular()
	} else {
		k.fast()
	}
	return nil
}

// decode is DecodeCenterSizeBoxes, in float64 as TFLite computes it.
func (k *detection) decode() {
	o := &k.o
	for i := range k.decoded {
		e := k.boxesF[4*i : 4*i+4]
		a := &k.anchors[i]
		// The products are rounded before the sums (no FMADD on arm64, see dotF).
		yc := float32(float64(float64(e[0])/float64(o.YScale)*float64(a[2])) + float64(a[0]))
		xc := float32(float64(float64(e[1])/float64(o.XScale)*float64(a[3])) + float64(a[1]))
		hh := float32(0.5 * math.Exp(float64(e[2])/float64(o.HScale)) * float64(a[2]))
		hw := float32(0.5 * math.Exp(float64(e[3])/float64(o.WScale)) * float64(a[3]))
		k.decoded[i] = [4]float32{yc - hh, xc - hw, yc + hh, xc + hw}
	}
}

// fast is NonMaxSuppressionMultiClassFastHelper.
func (k *detection) fast() {
	o := &k.o
	nc := o.NumClasses
	cats := min(o.MaxClassesPerDetection, nc)
	for b := range k.numBoxes {
		s := k.scoresF[b*k.numClassesWithBg+k.labelOffset:][:nc]
		order := k.classOrder[b*cats : (b+1)*cats]
		topClasses(s, order)
		k.maxScores[b] = s[order[0]]
	}
	k.nms(k.maxScores, o.MaxDetections)
	for out, b := range k.selected {
		s := k.scoresF[int(b)*k.numClassesWithBg+k.labelOffset:][:nc]
		for c := range cats {
			at := o.MaxClassesPerDetection*out + c
			cls := k.classOrder[int(b)*cats+c]
			copy(k.outBoxes[4*at:4*at+4], k.decoded[b][:])
			k.outClasses[at] = float32(cls)
			k.outScores[at] = s[cls]
		}
	}
	k.outCount[0] = float32(len(k.selected))
}

// topClasses writes the indices of the len(order) best scores, best first,
// ties by lower index (one class: the first maximum, as ArgMaxVector).
func topClasses(s []float32, order []int32) {
	for j := range order {
		best := int32(-1)
		for c, v := range s {
			taken := false
			for _, p := range order[:j] {
				if p == int32(c) {
					taken = true
					break
				}
			}
			if !taken && (best < 0 || v > s[best]) {
				best = int32(c)
			}
		}
		order[j] = best
	}
}

// nms is NonMaxSuppressionSingleClassHelper: the boxes scoring at least the
// threshold, best first, each suppressing the later ones it overlaps by more
// than the IoU threshold; at most maxDetections into k.selected.
func (k *detection) nms(scores []float32, maxDetections int) {
	o := &k.o
	kept := 0
	for i, s := range scores {
		if s >= o.NMSScoreThreshold {
			k.keepIdx[kept] = int32(i)
			k.keepScores[kept] = s
			kept++
		}
	}
	sorted := k.sorted[:kept]
	for i := range sorted {
		sorted[i] = int32(i)
	}
	stableSortDesc(sorted, k.keepScores[:kept], k.sortTmp[:kept])
	k.selected = k.selected[:0]
	outSize := min(kept, maxDetections)
	active := k.active[:kept]
	for i := range active {
		active[i] = true
	}
	numActive := kept
	for i := range kept {
		if numActive == 0 || len(k.selected) >= outSize {
			break
		}
		if !active[i] {
			continue
		}
		bi := k.keepIdx[sorted[i]]
		k.selected = append(k.selected, bi)
		active[i] = false
		numActive--
		for j := i + 1; j < kept; j++ {
			if active[j] && iou(&k.decoded[bi], &k.decoded[k.keepIdx[sorted[j]]]) > o.NMSIoUThreshold {
				active[j] = false
				numActive--
			}
		}
	}
}

// iou is ComputeIntersectionOverUnion of two (ymin, xmin, ymax, xmax) boxes.
func iou(a, b *[4]float32) float32 {
	// Each product is rounded before it is added (no FMADD on arm64, see dotF).
	areaA := float32((a[2] - a[0]) * (a[3] - a[1]))
	areaB := float32((b[2] - b[0]) * (b[3] - b[1]))
	if areaA <= 0 || areaB <= 0 {
		return 0
	}
	ih := max(min(a[2], b[2])-max(a[0], b[0]), 0)
	iw := max(min(a[3], b[3])-max(a[1], b[1]), 0)
	inter := float32(ih * iw)
	return inter / (areaA + areaB - inter)
}

// stableSortDesc sorts idx by key[idx] descending, equal keys keeping their
// order (a merge sort through tmp, so nothing is allocated).
func stableSortDesc(idx []int32, key []float32, tmp []int32) {
	n := len(idx)
	if n < 2 {
		return
	}
	src, dst := idx, tmp[:n]
	for width := 1; width < n; width *= 2 {
		for lo := 0; lo < n; lo += 2 * width {
			mid, hi := min(lo+width, n), min(lo+2*width, n)
			i, j, o := lo, mid, lo
			for i < mid && j < hi {
				if key[src[j]] > key[src[i]] {
					dst[o] = src[j]
					j++
				} else {
					dst[o] = src[i]
					i++
				}
				o++
			}
			o += copy(dst[o:], src[i:mid])
			copy(dst[o:], src[j:hi])
		}
		src, dst = dst, src
	}
	if &src[0] != &idx[0] {
		copy(idx, src)
	}
}

// regular is NonMaxSuppressionMultiClassRegularHelper.
func (k *detection) regular() {
	o := &k.o
	perClass := o.DetectionsPerClass
	if perClass < 1 {
		perClass = 100
	}
	k.candIdx, k.candScores = k.candIdx[:0], k.candScores[:0]
	for c := range o.NumClasses {
		for b := range k.numBoxes {
			k.classScores[b] = k.scoresF[b*k.numClassesWithBg+c+k.labelOffset]
		}
		k.nms(k.classScores, perClass)
		for _, b := range k.selected {
			k.candIdx = append(k.candIdx, b*int32(k.numClassesWithBg)+int32(c+k.labelOffset))
			k.candScores = append(k.candScores, k.classScores[b])
		}
		// Keep the MaxDetections best so far, best first, ties by order.
		n := len(k.candIdx)
		order := k.candTmpI[:n]
		for i := range order {
			order[i] = int32(i)
		}
		tmp := k.sortTmp[:n]
		stableSortDesc(order, k.candScores, tmp)
		keep := min(n, o.MaxDetections)
		for i := range keep {
			k.candTmpS[i] = k.candScores[order[i]]
			tmp[i] = k.candIdx[order[i]]
		}
		k.candIdx = append(k.candIdx[:0], tmp[:keep]...)
		k.candScores = append(k.candScores[:0], k.candTmpS[:keep]...)
	}
	for i := range k.candIdx {
		b := int(k.candIdx[i]) / k.numClassesWithBg
		cls := int(k.candIdx[i]) - b*k.numClassesWithBg - k.labelOffset
		copy(k.outBoxes[4*i:4*i+4], k.decoded[b][:])
		k.outClasses[i] = float32(cls)
		k.outScores[i] = k.candScores[i]
	}
	k.outCount[0] = float32(len(k.candIdx))
}
