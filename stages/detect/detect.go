package detect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/internal/tflite"
	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
)

// MetaModel is the metadata key of inference messages naming the model
// that produced them: the first 12 hex digits of its sha256, then "@" and its
// version ("e4b118e5e453@1").
const MetaModel = "edgeflow-model"

// ErrInput is wrapped by the errors for a message the model cannot be fed:
// not a picture, a corrupt one, a readings window of the wrong size, a payload
// kind the stage does not read.
var ErrInput = errors.New("input does not fit the model")

// ModelSwapper is implemented by stages whose model can be replaced while the
// pipeline runs. Over-the-air updates and federated rounds call it with the
// bytes of a new .tflite file; a model topic (a source of model files) will
// call it too.
type ModelSwapper interface {
	SwapModel(ctx context.Context, model []byte) error
}

// Detector is the detect processor. Process may be called from several
// goroutines: each call takes one of cfg.Concurrency interpreters of the
// current model.
type Detector struct {
	cfg      *Config
	labels   labelSet
	pipeline string // the pipeline it was built for (see Running)

	current atomic.Pointer[modelSet]
	swapMu  sync.Mutex // serialises SwapModel
	version int        // guarded by swapMu
	closed  atomic.Bool
}

func (d *Detector) isClosed() bool { return d.closed.Load() }

// New loads cfg.Model (and its labels) and returns a ready Detector. cfg must
// have passed Validate.
func New(ctx context.Context, cfg *Config) (*Detector, error) {
	data, err := os.ReadFile(cfg.Model)
	if err != nil {
		return nil, stages.FieldErrorf("model", "%w", err)
	}
	if len(data) > tflite.MaxFileBytes {
		return nil, stages.FieldErrorf("model", "%s: %d bytes, the limit is %d: %w", cfg.Model, len(data), tflite.MaxFileBytes, ErrModel)
	}
	labelFile := cfg.Labels
	if labelFile == "" {
		labelFile = FindLabels(cfg.Model)
	}
	var labels labelSet
	if labelFile != "" {
		if labels, err = readLabels(labelFile); err != nil {
			return nil, stages.FieldErrorf("labels", "%w", err)
		}
	}
	d := &Detector{cfg: cfg, labels: labels, version: 1}
	set, err := loadModel(ctx, cfg, data, ModelInfo{File: filepath.Base(cfg.Model), Version: 1}, labels)
	if err != nil {
		return nil, stages.FieldErrorf("model", "%s: %w", cfg.Model, err)
	}
	d.current.Store(set)
	return d, nil
}

func build(ctx context.Context, cfg *Config, env stages.Env) (stages.Processor, error) {
	d, err := New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	track(env.Pipeline, d)
	if cfg.ModelTopic != "" {
		return followModelTopic(d, cfg, env)
	}
	return d, nil
}

// Model describes the model messages are run on now.
func (d *Detector) Model() ModelInfo { return d.current.Load().info }

// LabelFile is the label file in use, "" when there is none.
func (d *Detector) LabelFile() string { return d.labels.file }

// SwapModel replaces the model with the .tflite file in model. The new model
// is loaded, checked (supported operators, inputs and outputs fitting the
// configured output) and its interpreters prepared before it replaces the old
// one in one atomic step: every message runs entirely on the old or entirely
// on the new model, and none is lost. Messages in flight finish on the old
// model, whose interpreters are then released. On error the old model stays.
func (d *Detector) SwapModel(ctx context.Context, model []byte) error {
	d.swapMu.Lock()
	defer d.swapMu.Unlock()
	if d.closed.Load() {
		return errors.New("detect: swap model after close")
	}
	if len(model) > tflite.MaxFileBytes {
		return fmt.Errorf("detect: swap model: %d bytes, the limit is %d: %w", len(model), tflite.MaxFileBytes, ErrModel)
	}
	data := append([]byte(nil), model...) // the caller may reuse its buffer
	set, err := loadModel(ctx, d.cfg, data, ModelInfo{Version: d.version + 1}, d.labels)
	if err != nil {
		return fmt.Errorf("detect: swap model: %w", err)
	}
	d.version++
	old := d.current.Swap(set)
	old.retire()
	return nil
}

// Process runs the model on one message: a picture (kind image) or a window
// of readings (kind readings). It returns one inference message whose
// payload is a Result in JSON and whose metadata are the input's, with
// edgeflow-kind inference and edgeflow-model set. A message that does not
// fit the model fails alone, with a stages.Malformed error naming it (so the
// runtime dead-letters it rather than redelivering it).
func (d *Detector) Process(ctx context.Context, msg *message.Message) ([]*message.Message, error) {
	var set *modelSet
	var r *runner
	for r == nil {
		set = d.current.Load()
		var err error
		r, err = set.acquire(ctx)
		if errors.Is(err, errRetired) && !d.isClosed() {
			continue // swapped while waiting: take the new model
		}
		if err != nil {
			return nil, fmt.Errorf("detect: message %s: %w", msg.UUID, err)
		}
	}
	defer set.release(r)
	begin := time.Now()
	res := Result{Kind: d.cfg.Output, Model: set.info, Input: InputInfo{
		Message: msg.UUID, Node: msg.Metadata.Get(stages.MetaNode), Stream: msg.Metadata.Get(stages.MetaStream),
		Name: msg.Metadata.Get(stages.MetaImageName),
	}}
	if err := d.fill(r, set, msg, &res.Input); err != nil {
		// The message can never fit: the runtime moves it to the dead letters.
		return nil, stages.Malformed(fmt.Errorf("detect: message %s%s: %w", msg.UUID, nameOf(msg), err))
	}
	if err := r.ip.Invoke(ctx); err != nil {
		return nil, fmt.Errorf("detect: message %s%s: %w", msg.UUID, nameOf(msg), err)
	}
	if err := d.readOutputs(r, set, &res); err != nil {
		return nil, fmt.Errorf("detect: message %s%s: %w", msg.UUID, nameOf(msg), err)
	}
	res.Time = time.Now().UTC()
	res.Micros = res.Time.Sub(begin).Microseconds()
	payload, err := json.Marshal(&res)
	if err != nil {
		return nil, fmt.Errorf("detect: message %s: %w", msg.UUID, err)
	}
	out := message.NewMessage(watermill.NewUUID(), append(payload, '\n'))
	for k, v := range msg.Metadata {
		out.Metadata.Set(k, v)
	}
	out.Metadata.Set(stages.MetaKind, stages.KindInference)
	out.Metadata.Set(MetaModel, set.info.SHA256[:12]+"@"+strconv.Itoa(set.info.Version))
	out.SetContext(msg.Context())
	return []*message.Message{out}, nil
}

func nameOf(msg *message.Message) string {
	if n := msg.Metadata.Get(stages.MetaImageName); n != "" {
		return " (" + n + ")"
	}
	return ""
}

// fill writes the message into the runner's input tensor.
func (d *Detector) fill(r *runner, set *modelSet, msg *message.Message, info *InputInfo) error {
	switch kind := msg.Metadata.Get(stages.MetaKind); kind {
	case stages.KindImage:
		return d.fillImage(r, set, msg.Payload, info)
	case stages.KindReadings:
		return d.fillReadings(r, set, msg.Payload, info)
	default:
		return fmt.Errorf("payload kind %q: %w (want %s or %s)", kind, ErrInput, stages.KindImage, stages.KindReadings)
	}
}

func (d *Detector) fillImage(r *runner, set *modelSet, payload []byte, info *InputInfo) error {
	in := set.in
	if !in.isImage {
		return fmt.Errorf("a picture: %w: input shape %v is not an image (see imageLayout)", ErrInput, in.shape)
	}
	l := in.image
	px, format, err := decodeImage(payload, l.ch, &r.decoded)
	info.Format = format
	if err != nil {
		return err
	}
	info.Width, info.Height = px.w, px.h
	r.resized = grow(r.resized, l.w*l.h*l.ch)
	r.resize.resize(r.resized, px.pix, px.w, px.h, px.ch, l.w, l.h)
	t := r.ip.Input(0)
	keepReal := d.cfg.Output == OutputScore && d.cfg.Score == ScoreMSE
	if keepReal {
		r.inReal = grow(r.inReal, len(r.resized))
	}
	std := float32(d.cfg.Std)
	mean := float32(d.cfg.Mean)
	switch in.typ {
	case tflite.Uint8:
		dst := t.UInt8s()
		if std == 0 {
			copy(dst, r.resized)
		} else {
			for i, p := range r.resized {
				dst[i] = uint8(quantize((float32(p)-mean)/std, in, 0, 255))
			}
		}
	case tflite.Int8:
		dst := t.Int8s()
		if std == 0 {
			for i, p := range r.resized {
				dst[i] = int8(int(p) - 128)
			}
		} else {
			for i, p := range r.resized {
				dst[i] = int8(quantize((float32(p)-mean)/std, in, -128, 127))
			}
		}
	case tflite.Float32:
		dst := t.Float32s()
		if std == 0 {
			std = 255
		}
		for i, p := range r.resized {
			dst[i] = (float32(p) - mean) / std
		}
	}
	if keepReal {
		r.inReal = realValues(t, r.inReal)
	}
	return nil
}

// quantize is TFLite's quantisation of a real value: round half away from
// zero, plus the zero point, clamped to [lo, hi].
func quantize(v float32, in inputSpec, lo, hi int32) int32 {
	q := math.Round(float64(v/in.scale)) + float64(in.zeroPoint)
	return int32(min(max(q, float64(lo)), float64(hi)))
}

func (d *Detector) fillReadings(r *runner, set *modelSet, payload []byte, info *InputInfo) error {
	var err error
	r.rs, err = reading.DecodePayload(payload, r.rs[:0])
	if err != nil {
		return fmt.Errorf("readings: %w: %w", ErrInput, err)
	}
	in := set.in
	info.Readings = len(r.rs)
	r.inReal = grow(r.inReal, in.elements)
	if len(d.cfg.Streams) == 0 {
		if len(r.rs) != in.elements {
			return fmt.Errorf("%d readings: %w: input shape %v takes %d values", len(r.rs), ErrInput, in.shape, in.elements)
		}
		for i, rd := range r.rs {
			r.inReal[i] = float32(rd.Value)
		}
	} else {
		c := len(d.cfg.Streams)
		if in.elements%c != 0 {
			return fmt.Errorf("%w: input shape %v (%d values) does not divide into %d streams", ErrInput, in.shape, in.elements, c)
		}
		steps := in.elements / c
		var seen [64]int
		counts := seen[:0]
		if c > len(seen) {
			counts = make([]int, c)
		} else {
			counts = seen[:c]
		}
		for _, rd := range r.rs {
			j := -1
			for k, s := range d.cfg.Streams {
				if s == rd.Stream {
					j = k
					break
				}
			}
			if j < 0 {
				continue
			}
			if counts[j] == steps {
				return fmt.Errorf("stream %s: more than %d readings: %w: input shape %v takes %d per stream", rd.Stream, steps, ErrInput, in.shape, steps)
			}
			r.inReal[counts[j]*c+j] = float32(rd.Value)
			counts[j]++
		}
		for j, n := range counts {
			if n != steps {
				return fmt.Errorf("stream %s: %d readings: %w: input shape %v takes %d per stream", d.cfg.Streams[j], n, ErrInput, in.shape, steps)
			}
		}
	}
	if d.cfg.Std > 0 {
		mean, std := float32(d.cfg.Mean), float32(d.cfg.Std)
		for i, v := range r.inReal {
			r.inReal[i] = (v - mean) / std
		}
	}
	t := r.ip.Input(0)
	for i, v := range r.inReal {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("reading %d: value %v: %w: the model takes finite numbers", i, v, ErrInput)
		}
	}
	switch in.typ {
	case tflite.Float32:
		copy(t.Float32s(), r.inReal)
	case tflite.Uint8:
		dst := t.UInt8s()
		for i, v := range r.inReal {
			dst[i] = uint8(quantize(v, in, 0, 255))
		}
	case tflite.Int8:
		dst := t.Int8s()
		for i, v := range r.inReal {
			dst[i] = int8(quantize(v, in, -128, 127))
		}
	}
	if in.quantized {
		r.inReal = realValues(t, r.inReal)
	}
	return nil
}

// Close releases the interpreters. It is idempotent; Process must not be
// called afterwards.
func (d *Detector) Close() error {
	d.swapMu.Lock()
	defer d.swapMu.Unlock()
	if d.closed.Swap(true) {
		return nil
	}
	untrack(d)
	d.current.Load().retire()
	return nil
}

var (
	_ stages.Processor = (*Detector)(nil)
	_ stages.Closer    = (*Detector)(nil)
	_ ModelSwapper     = (*Detector)(nil)
)
