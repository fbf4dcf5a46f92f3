package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/edgeflow/edgeflow/internal/fl/model"
)

// Config is local training's hyperparameters.
type Config struct {
	LearningRate float32 // SGD step size, > 0
	BatchSize    int     // minibatch size B, ≥ 1
	Epochs       int     // passes over the local data E, ≥ 1
	// ProximalMu is FedProx's μ ≥ 0: the loss gains μ/2·‖w − w_global‖²,
	// pulling local weights toward the round's global model. 0 is FedAvg.
	ProximalMu float32
	Seed       uint64 // shuffling; with the round and node: repeatable runs
}

// Validate names the first field out of range.
func (c Config) Validate() error {
	switch {
	case !(c.LearningRate > 0) || math.IsInf(float64(c.LearningRate), 0):
		return fmt.Errorf("train config: learning_rate %v, want > 0 and finite", c.LearningRate)
	case c.BatchSize < 1:
		return fmt.Errorf("train config: batch_size %d, want ≥ 1", c.BatchSize)
	case c.Epochs < 1:
		return fmt.Errorf("train config: epochs %d, want ≥ 1", c.Epochs)
	case !(c.ProximalMu >= 0) || math.IsInf(float64(c.ProximalMu), 0):
		return fmt.Errorf("train config: proximal_mu %v, want ≥ 0 and finite", c.ProximalMu)
	}
	return nil
}

// Metrics of a pass over data: mean cross-entropy and the fraction of
// examples whose most probable class is the label.
type Metrics struct {
	Loss     float64
	Accuracy float64
	Examples int
}

// Result is what local training produced.
type Result struct {
	Params []float32 // the local model's weights
	Train  Metrics   // over the last epoch's minibatches, measured before each step
	Steps  int       // SGD steps taken
}

// Trainer trains and evaluates MLPs of one layout; see the package doc.
type Trainer struct {
	layout  model.Layout
	widths  []int
	wOff    []int // offset of layer l's weights in the parameter vector
	bOff    []int
	acts    [][]float32 // acts[0]: the input batch; acts[l]: layer l's output
	grads   [][]float32 // grads[l]: dLoss/d(pre-activation) of layer l
	perm    []int
	capRows int
	w0t     []float32 // the first layer's weights, transposed, while training
	g0t     []float32 // the same of the global model (FedProx)
}

// transpose writes the transpose of m (rows×cols, row-major) to dst
// (cols×rows), reusing dst's array when it is large enough, and returns it.
func transpose(dst, m []float32, rows, cols int) []float32 {
	if cap(dst) < rows*cols {
		dst = make([]float32, rows*cols)
	}
	dst = dst[:rows*cols]
	for r := range rows {
		for c, v := range m[r*cols : (r+1)*cols] {
			dst[c*rows+r] = v
		}
	}
	return dst
}

// ErrData is wrapped by errors about a dataset that does not fit the model.
var ErrData = errors.New("dataset does not fit the model")

// NewTrainer returns a Trainer for MLPs of layout l (see model.MLPLayout).
func NewTrainer(l model.Layout) (*Trainer, error) {
	widths, err := model.MLPWidths(l)
	if err != nil {
		return nil, err
	}
	t := &Trainer{layout: l.Clone(), widths: widths}
	for i := range len(widths) - 1 {
		t.wOff = append(t.wOff, l.Offset(2*i))
		t.bOff = append(t.bOff, l.Offset(2*i+1))
	}
	return t, nil
}

func (t *Trainer) ensure(rows int) {
	if rows <= t.capRows {
		return
	}
	t.capRows = rows
	t.acts = make([][]float32, len(t.widths))
	t.grads = make([][]float32, len(t.widths))
	for l, w := range t.widths {
		t.acts[l] = make([]float32, rows*w)
		if l > 0 {
			t.grads[l] = make([]float32, rows*w)
		}
	}
}

func (t *Trainer) check(m model.Model, data Dataset) error {
	if !m.Layout.Equal(t.layout) {
		return fmt.Errorf("model layout %v differs from the trainer's %v: %w", m.Layout, t.layout, model.ErrLayout)
	}
	if len(m.Params) != t.layout.NumParams() {
		return fmt.Errorf("params: %d values, layout has %d: %w", len(m.Params), t.layout.NumParams(), model.ErrLayout)
	}
	if err := data.Check(); err != nil {
		return fmt.Errorf("%w: %w", ErrData, err)
	}
	if data.Dim != t.widths[0] || data.Classes != t.widths[len(t.widths)-1] {
		return fmt.Errorf("dataset dim %d, classes %d; model takes %d and has %d outputs: %w",
			data.Dim, data.Classes, t.widths[0], t.widths[len(t.widths)-1], ErrData)
	}
	return nil
}

// forward runs rows examples held in acts[0]; acts[L] ends as softmax
// probabilities. It adds the batch's cross-entropy and correct count to m.
// With w0t (the first layer's weights transposed, [in][out]) the first layer
// is computed as a sum of weight rows over the input's non-zero values: MNIST
// pixels are four-fifths zero, so this skips most of the largest layer.
func (t *Trainer) forward(p, w0t []float32, rows int, labels []uint8, m *Metrics) {
	L := len(t.widths) - 1
	for l := 1; l <= L; l++ {
		in, out := t.widths[l-1], t.widths[l]
		W, bias := p[t.wOff[l-1]:t.wOff[l-1]+in*out], p[t.bOff[l-1]:t.bOff[l-1]+out]
		X, Z := t.acts[l-1], t.acts[l]
		if l == 1 && w0t != nil {
			for b := range rows {
				z := Z[b*out : (b+1)*out]
				copy(z, bias)
				for i, v := range X[b*in : (b+1)*in] {
					if v != 0 {
						axpy(v, w0t[i*out:(i+1)*out], z)
					}
				}
			}
		}
		for o := range out {
			if l == 1 && w0t != nil {
				break
			}
			w := W[o*in : (o+1)*in]
			for b := range rows {
				Z[b*out+o] = dot(X[b*in:(b+1)*in], w) + bias[o]
			}
		}
		if l < L {
			for i, v := range Z[:rows*out] {
				if v < 0 {
					Z[i] = 0
				}
			}
		}
	}
	classes := t.widths[L]
	P := t.acts[L]
	for b := range rows {
		z := P[b*classes : (b+1)*classes]
		best, maxZ := 0, z[0]
		for i, v := range z {
			if v > maxZ {
				best, maxZ = i, v
			}
		}
		var sum float64
		for i, v := range z {
			e := math.Exp(float64(v - maxZ))
			z[i] = float32(e)
			sum += e
		}
		for i := range z {
			z[i] = float32(float64(z[i]) / sum)
		}
		if labels != nil {
			m.Loss += -math.Log(max(float64(z[labels[b]]), 1e-30))
			if best == int(labels[b]) {
				m.Accuracy++
			}
		}
	}
	m.Examples += rows
}

// backward takes one SGD step on p (and w0t, the first layer's weights
// transposed, which stand in for p's) from the probabilities of forward.
func (t *Trainer) backward(p, w0t []float32, rows int, labels []uint8, lr float32) {
	L := len(t.widths) - 1
	classes := t.widths[L]
	G := t.grads[L]
	inv := 1 / float32(rows)
	for b := range rows {
		for c := range classes {
			G[b*classes+c] = t.acts[L][b*classes+c] * inv
		}
		G[b*classes+int(labels[b])] -= inv
	}
	for l := L; l >= 1; l-- {
		in, out := t.widths[l-1], t.widths[l]
		W, bias := p[t.wOff[l-1]:t.wOff[l-1]+in*out], p[t.bOff[l-1]:t.bOff[l-1]+out]
		X, G := t.acts[l-1], t.grads[l]
		if l == 1 { // the first layer's weights are transposed; no input gradient
			for b := range rows {
				g := G[b*out : (b+1)*out]
				for i, v := range X[b*in : (b+1)*in] {
					if v != 0 {
						axpy(-lr*v, g, w0t[i*out:(i+1)*out])
					}
				}
				axpy(-lr, g, bias)
			}
			continue
		}
		var dX []float32
		if l > 1 {
			dX = t.grads[l-1][:rows*in]
			clear(dX)
		}
		for o := range out {
			w := W[o*in : (o+1)*in]
			var gb float32
			if dX != nil { // with the weights before this step
				for b := range rows {
					if g := G[b*out+o]; g != 0 {
						axpy(g, w, dX[b*in:(b+1)*in])
					}
				}
			}
			for b := range rows {
				if g := G[b*out+o]; g != 0 {
					axpy(-lr*g, X[b*in:(b+1)*in], w)
					gb += g
				}
			}
			bias[o] -= lr * gb
		}
		if dX != nil { // ReLU
			for i, a := range X[:rows*in] {
				if a <= 0 {
					dX[i] = 0
				}
			}
		}
	}
}

// Train runs local training from global on data and returns the local
// weights. global is not modified.
func (t *Trainer) Train(ctx context.Context, global model.Model, data Dataset, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if err := t.check(global, data); err != nil {
		return Result{}, err
	}
	n := data.Len()
	if n == 0 {
		return Result{}, fmt.Errorf("dataset: no examples: %w", ErrData)
	}
	t.ensure(min(cfg.BatchSize, n))
	p := append([]float32(nil), global.Params...)
	in, out := t.widths[0], t.widths[1]
	w0 := p[t.wOff[0] : t.wOff[0]+in*out]
	w0t := transpose(t.w0t[:0], w0, out, in)
	var g0t []float32
	if cfg.ProximalMu > 0 {
		g0t = transpose(t.g0t[:0], w0, out, in)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7a1))
	if cap(t.perm) < n {
		t.perm = make([]int, n)
	}
	perm := t.perm[:n]
	for i := range perm {
		perm[i] = i
	}
	res := Result{}
	dim := data.Dim
	for range cfg.Epochs {
		rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		res.Train = Metrics{}
		labels := make([]uint8, cfg.BatchSize)
		for start := 0; start < n; start += cfg.BatchSize {
			if err := ctx.Err(); err != nil {
				return Result{}, err
			}
			rows := min(cfg.BatchSize, n-start)
			for b := range rows {
				i := perm[start+b]
				copy(t.acts[0][b*dim:(b+1)*dim], data.Row(i))
				labels[b] = data.Labels[i]
			}
			t.forward(p, w0t, rows, labels[:rows], &res.Train)
			t.backward(p, w0t, rows, labels[:rows], cfg.LearningRate)
			if cfg.ProximalMu > 0 { // w0 is stale during the epoch: w0t stands in for it
				a := cfg.LearningRate * cfg.ProximalMu
				for i, w := range global.Params[:t.wOff[0]] {
					p[i] -= a * (p[i] - w)
				}
				for i, w := range global.Params[t.wOff[0]+in*out:] {
					j := t.wOff[0] + in*out + i
					p[j] -= a * (p[j] - w)
				}
				for i, w := range g0t {
					w0t[i] -= a * (w0t[i] - w)
				}
			}
			res.Steps++
		}
	}
	transpose(w0, w0t, in, out) // back into p, in place
	t.w0t, t.g0t = w0t, g0t
	res.Train.Loss /= float64(res.Train.Examples)
	res.Train.Accuracy /= float64(res.Train.Examples)
	res.Params = p
	return res, nil
}

// LocalUpdate trains from global and returns the delta (local − global) as
// an update of round from node, with metrics train_loss, train_accuracy and
// train_seconds.
func (t *Trainer) LocalUpdate(ctx context.Context, round uint64, node string, global model.Model, data Dataset, cfg Config) (*model.Update, error) {
	start := time.Now()
	res, err := t.Train(ctx, global, data, cfg)
	if err != nil {
		return nil, fmt.Errorf("node %s round %d: %w", node, round, err)
	}
	for i, w := range global.Params {
		res.Params[i] -= w
	}
	return &model.Update{
		Round: round, Node: node, Examples: uint64(data.Len()), Kind: model.KindDelta,
		Metrics: []model.Metric{
			{Name: "train_loss", Value: res.Train.Loss},
			{Name: "train_accuracy", Value: res.Train.Accuracy},
			{Name: "train_seconds", Value: time.Since(start).Seconds()},
		},
		Layout: global.Layout, Params: res.Params,
	}, nil
}

// evalRows is the batch of Evaluate and Predict.
const evalRows = 100

// Evaluate measures m on data.
func (t *Trainer) Evaluate(ctx context.Context, m model.Model, data Dataset) (Metrics, error) {
	if err := t.check(m, data); err != nil {
		return Metrics{}, err
	}
	t.ensure(evalRows)
	in, out := t.widths[0], t.widths[1]
	t.w0t = transpose(t.w0t, m.Params[t.wOff[0]:t.wOff[0]+in*out], out, in)
	var res Metrics
	dim := data.Dim
	for start := 0; start < data.Len(); start += evalRows {
		if err := ctx.Err(); err != nil {
			return Metrics{}, err
		}
		rows := min(evalRows, data.Len()-start)
		copy(t.acts[0], data.Features[start*dim:(start+rows)*dim])
		t.forward(m.Params, t.w0t, rows, data.Labels[start:start+rows], &res)
	}
	if res.Examples > 0 {
		res.Loss /= float64(res.Examples)
		res.Accuracy /= float64(res.Examples)
	}
	return res, nil
}

// Predict returns the class probabilities of m for the rows of x (a
// multiple of the input width), row after row.
func (t *Trainer) Predict(m model.Model, x []float32) ([]float32, error) {
	dim, classes := t.widths[0], t.widths[len(t.widths)-1]
	if len(x)%dim != 0 {
		return nil, fmt.Errorf("input: %d values, not a multiple of %d: %w", len(x), dim, ErrData)
	}
	if err := t.check(m, Dataset{Dim: dim, Classes: classes}); err != nil {
		return nil, err
	}
	t.ensure(evalRows)
	n := len(x) / dim
	out := make([]float32, 0, n*classes)
	var ignored Metrics
	for start := 0; start < n; start += evalRows {
		rows := min(evalRows, n-start)
		copy(t.acts[0], x[start*dim:(start+rows)*dim])
		t.forward(m.Params, nil, rows, nil, &ignored)
		out = append(out, t.acts[len(t.widths)-1][:rows*classes]...)
	}
	return out, nil
}
