package detect

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/edgeflow/edgeflow/internal/tflite"
	"github.com/edgeflow/edgeflow/stages/reading"
)

// ErrModel is wrapped by the errors for a model the stage cannot use: not a
// TensorFlow Lite file, operators the interpreter lacks, or inputs and outputs
// that do not fit the configured output kind.
var ErrModel = errors.New("model not usable")

// modelSet is one loaded model with everything a message needs to run it:
// the parsed model, its labels and a pool of ready interpreters. A Detector
// holds the current set behind an atomic pointer; SwapModel builds a new set
// completely before it replaces the old one.
type modelSet struct {
	info    ModelInfo
	data    []byte // the file's bytes: the model's constant tensors point into them
	labels  labelSet
	in      inputSpec
	runners chan *runner

	mu      sync.Mutex
	retired bool          // replaced by a newer set: returned runners are closed
	gone    chan struct{} // closed on retire
}

// errRetired: the set was replaced while a message waited for a runner; the
// message takes the current set instead.
var errRetired = errors.New("model replaced")

// inputSpec describes input 0.
type inputSpec struct {
	typ       tflite.TensorType
	shape     []int
	elements  int
	scale     float32
	zeroPoint int32
	quantized bool
	image     imageLayout
	isImage   bool // the shape reads as a picture
}

// runner is one interpreter with the scratch memory of the messages it runs.
type runner struct {
	ip      engine
	resize  resizer
	decoded decodeScratch
	resized []uint8
	inReal  []float32 // the input as real numbers, kept for score: mse
	outReal []float32
	ssd     [4][]float32 // boxes, classes, scores, count
	order   []int        // classify: class indices being ranked
	rs      []reading.Reading
}

// loadModel parses data, checks it against the config and prepares
// cfg.Concurrency interpreters. Nothing is shared with other sets.
func loadModel(ctx context.Context, cfg *Config, data []byte, info ModelInfo, labels labelSet) (*modelSet, error) {
	newEngine, err := engineMaker(cfg, data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	sum := sha256.Sum256(data)
	info.SHA256 = hex.EncodeToString(sum[:])
	set := &modelSet{info: info, data: data, labels: labels, runners: make(chan *runner, cfg.Concurrency), gone: make(chan struct{})}
	for range cfg.Concurrency {
		if err := ctx.Err(); err != nil {
			set.close()
			return nil, err
		}
		ip, err := newEngine()
		if err != nil {
			set.close()
			return nil, fmt.Errorf("%w: %w", ErrModel, err)
		}
		set.runners <- &runner{ip: ip}
	}
	r := <-set.runners
	set.runners <- r
	if err := set.check(cfg, r.ip); err != nil {
		set.close()
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	return set, nil
}

// check reads input 0 and verifies the outputs fit cfg.Output.
func (s *modelSet) check(cfg *Config, ip engine) error {
	if ip.NumInputs() != 1 {
		return fmt.Errorf("the model has %d inputs; the detect stage feeds models with one", ip.NumInputs())
	}
	t := ip.Input(0)
	in := inputSpec{typ: t.Type, shape: t.Shape, elements: t.NumElements()}
	switch t.Type {
	case tflite.Uint8, tflite.Int8:
		scale, zp, ok := t.ScaleZeroPoint()
		if !ok {
			return fmt.Errorf("input %s: %s without per-tensor quantisation", t.Name, t.Type)
		}
		in.scale, in.zeroPoint, in.quantized = scale, zp, true
	case tflite.Float32:
	default:
		return fmt.Errorf("input %s: type %s (want float32, uint8 or int8)", t.Name, t.Type)
	}
	if in.elements < 1 {
		return fmt.Errorf("input %s: shape %v holds no values", t.Name, t.Shape)
	}
	if l, err := imageLayoutOf(t.Shape); err == nil {
		in.image, in.isImage = l, true
	}
	s.in = in
	numeric := func(i int) error {
		o := ip.Output(i)
		if o == nil {
			return fmt.Errorf("output %s needs output %d; the model has %d", cfg.Output, i, ip.NumOutputs())
		}
		switch o.Type {
		case tflite.Float32, tflite.Uint8, tflite.Int8, tflite.Int32, tflite.Int64:
		default:
			return fmt.Errorf("output %d (%s): type %s has no numeric reading", i, o.Name, o.Type)
		}
		if o.NumElements() < 1 {
			return fmt.Errorf("output %d (%s): shape %v holds no values", i, o.Name, o.Shape)
		}
		return nil
	}
	switch cfg.Output {
	case OutputClassify, OutputScore:
		if err := numeric(0); err != nil {
			return err
		}
		if cfg.Score == ScoreMSE && ip.Output(0).NumElements() != in.elements {
			return fmt.Errorf("score mse: output 0 has %d values, the input %d; they must match", ip.Output(0).NumElements(), in.elements)
		}
	case OutputSSD:
		if ip.NumOutputs() != 4 {
			return fmt.Errorf("output ssd needs the 4 outputs of TFLite_Detection_PostProcess (boxes, classes, scores, count); the model has %d", ip.NumOutputs())
		}
		for i := range 4 {
			if err := numeric(i); err != nil {
				return err
			}
		}
		n := ip.Output(2).NumElements()
		if ip.Output(0).NumElements() != 4*n || ip.Output(1).NumElements() != n {
			return fmt.Errorf("output ssd: boxes %v, classes %v, scores %v do not describe the same detections",
				ip.Output(0).Shape, ip.Output(1).Shape, ip.Output(2).Shape)
		}
	case OutputRaw:
		for i := range ip.NumOutputs() {
			if err := numeric(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// acquire takes an idle runner, waiting while all are busy.
func (s *modelSet) acquire(ctx context.Context) (*runner, error) {
	select {
	case r := <-s.runners:
		return r, nil
	default:
	}
	select {
	case r := <-s.runners:
		return r, nil
	case <-s.gone:
		return nil, errRetired
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// release gives r back, or closes it when the set was replaced meanwhile.
func (s *modelSet) release(r *runner) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retired {
		r.ip.Close()
		return
	}
	s.runners <- r
}

// retire marks the set replaced and closes its idle interpreters; busy ones
// are closed as their messages finish.
func (s *modelSet) retire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.retired {
		s.retired = true
		close(s.gone)
	}
	for {
		select {
		case r := <-s.runners:
			r.ip.Close()
		default:
			return
		}
	}
}

func (s *modelSet) close() { s.retire() }

// labelSet maps class numbers to names.
type labelSet struct {
	names []string // names[i] is class i's label ("" when unnamed)
	file  string
}

// label is class i's name, "" when there is none. ssd skips a leading "???".
func (l labelSet) label(i int, ssd bool) string {
	if ssd && len(l.names) > 0 && l.names[0] == "???" {
		i++
	}
	if i < 0 || i >= len(l.names) {
		return ""
	}
	return l.names[i]
}

// MaxLabels bounds the classes of a label file.
const MaxLabels = 1 << 20

// readLabels reads a label file: one label per line (line i names class i),
// or every line "ID label" (Coral's format). Errors name file and line.
func readLabels(path string) (labelSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return labelSet{}, err
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, strings.TrimRight(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return labelSet{}, fmt.Errorf("%s: %w", path, err)
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > MaxLabels {
		return labelSet{}, fmt.Errorf("%s: %d labels, the limit is %d", path, len(lines), MaxLabels)
	}
	// "ID label" on every non-empty line?
	ids := make([]int, len(lines))
	numbered := len(lines) > 0
	for i, line := range lines {
		if strings.TrimSpace(line) == "" {
			ids[i] = -1
			continue
		}
		f, _, ok := strings.Cut(strings.TrimSpace(line), " ")
		id, err := strconv.Atoi(strings.TrimRight(f, ":\t"))
		if !ok || err != nil || id < 0 || id >= MaxLabels {
			numbered = false
			break
		}
		ids[i] = id
	}
	if !numbered {
		for i := range lines {
			lines[i] = strings.TrimSpace(lines[i])
		}
		return labelSet{names: lines, file: path}, nil
	}
	var names []string
	for i, line := range lines {
		if ids[i] < 0 {
			continue
		}
		_, name, _ := strings.Cut(strings.TrimSpace(line), " ")
		if ids[i] >= len(names) {
			names = append(names, make([]string, ids[i]+1-len(names))...)
		}
		names[ids[i]] = strings.TrimSpace(name)
	}
	return labelSet{names: names, file: path}, nil
}

// labelCandidates are the file names tried beside a model when no label
// file is configured, in order.
func labelCandidates(model string) []string {
	dir, base := filepath.Dir(model), filepath.Base(model)
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	return []string{
		filepath.Join(dir, stem+".labels.txt"),
		filepath.Join(dir, stem+"_labels.txt"),
		filepath.Join(dir, stem+".txt"),
		filepath.Join(dir, "labels.txt"),
		filepath.Join(dir, "labelmap.txt"),
	}
}

// FindLabels returns the label file used for model when none is configured:
// the first of labelCandidates that exists, or "".
func FindLabels(model string) string {
	for _, p := range labelCandidates(model) {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}
