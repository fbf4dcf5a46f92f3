package tflite

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"
)

// ErrInterpreter is wrapped by the errors of NewInterpreter for a model it
// cannot run (shapes, types or options its kernels do not handle).
var ErrInterpreter = errors.New("model not runnable")

// Interpreter runs the main subgraph of a Model. NewInterpreter checks every
// operator, precomputes the kernels' parameters (quantized multipliers,
// activation ranges, padding) and plans one arena for all activations, reusing
// memory between tensors whose lifetimes do not overlap; Invoke then runs the
// operators in order without allocating. An Interpreter is not safe for
// concurrent use; make one per goroutine (they may share the Model).
type Interpreter struct {
	model   *Model
	tensors []Tensor // the subgraph's tensors; activations point into arena
	inputs  []int
	outputs []int
	kernels []kernel
	ops     []string // operator names for errors
	arena   []byte
	pool    *workerPool
	// plainConv disables the packed quantized convolution (tests compare
	// the two paths).
	plainConv bool
	// packedConv keeps the pure-Go packed convolution where an assembly
	// kernel exists (tests compare them).
	packedConv bool
	arenaLimit int
	closed     bool
}

// ErrClosed is returned by Invoke after Close.
var ErrClosed = errors.New("tflite: interpreter closed")

// MaxThreads bounds WithThreads.
const MaxThreads = 64

// kernel is one prepared operator.
type kernel interface {
	eval() error
}

// InterpreterOption configures NewInterpreter.
type InterpreterOption func(*interpreterConfig)

type interpreterConfig struct {
	threads    int
	arenaLimit int
	plainConv  bool
	packedConv bool
}

// WithArenaLimit sets the most activation memory the interpreter may
// allocate, in bytes (default DefaultArenaLimit).
func WithArenaLimit(bytes int) InterpreterOption {
	return func(c *interpreterConfig) { c.arenaLimit = bytes }
}

// withPlainConv makes quantized CONV_2D use the plain kernel, not the packed
// matrix product (for tests that compare the two).
func withPlainConv() InterpreterOption {
	return func(c *interpreterConfig) { c.plainConv = true }
}

// withPackedConv makes quantized CONV_2D use the pure-Go packed matrix
// product even where the assembly micro-kernel runs (for tests).
func withPackedConv() InterpreterOption {
	return func(c *interpreterConfig) { c.packedConv = true }
}

// WithThreads sets the number of goroutines a kernel splits its work over
// (output rows); n < 1 means runtime.GOMAXPROCS(0), the default, and n is at
// most MaxThreads.
func WithThreads(n int) InterpreterOption {
	return func(c *interpreterConfig) { c.threads = n }
}

// NewInterpreter prepares m's main subgraph for Invoke. It fails, wrapping
// ErrUnsupportedOps or ErrInterpreter and naming the operator, when an
// operator is not supported or its tensors are not what its kernel handles.
func NewInterpreter(m *Model, opts ...InterpreterOption) (*Interpreter, error) {
	if m == nil || len(m.Subgraphs) == 0 {
		return nil, fmt.Errorf("tflite: no subgraph to run: %w", ErrInterpreter)
	}
	if err := m.CheckSupported(); err != nil {
		return nil, err
	}
	cfg := interpreterConfig{arenaLimit: DefaultArenaLimit}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.threads < 1 {
		cfg.threads = runtime.GOMAXPROCS(0)
	}
	cfg.threads = min(cfg.threads, MaxThreads)
	g := m.Main()
	ip := &Interpreter{
		model:   m,
		tensors: make([]Tensor, len(g.Tensors)),
		inputs:  slices.Clone(g.Inputs),
		outputs: slices.Clone(g.Outputs),
		kernels: make([]kernel, len(g.Operators)),
		ops:     make([]string, len(g.Operators)),

		plainConv:  cfg.plainConv,
		packedConv: cfg.packedConv,
		arenaLimit: cfg.arenaLimit,
	}
	for i := range g.Tensors {
		t := g.Tensors[i]
		t.Shape = slices.Clone(t.Shape)
		if t.Data != nil && t.Type.Size() > 1 && uintptr(unsafe.Pointer(unsafe.SliceData(t.Data)))%8 != 0 {
			t.Data = alignedCopy(t.Data)
		}
		ip.tensors[i] = t
	}
	// Shapes first (some outputs, like the detection post-processing's, are
	// only known from their operator), then the arena, then the kernels,
	// which keep typed views of their tensors' memory.
	for i := range g.Operators {
		op := &g.Operators[i]
		ip.ops[i] = op.Op
		if err := ip.inferShape(op); err != nil {
			return nil, fmt.Errorf("tflite: operators[%d] (%s): %w", i, op.Op, err)
		}
	}
	if err := ip.planArena(g); err != nil {
		return nil, err
	}
	ip.pool = newWorkerPool(cfg.threads)
	runtime.AddCleanup(ip, func(p *workerPool) { p.close() }, ip.pool)
	for i := range g.Operators {
		op := &g.Operators[i]
		k, err := ip.prepare(op)
		if err != nil {
			ip.pool.close()
			return nil, fmt.Errorf("tflite: operators[%d] (%s): %w", i, op.Op, err)
		}
		ip.kernels[i] = k
	}
	return ip, nil
}

// Close stops the interpreter's worker goroutines; Invoke then returns
// ErrClosed. Closing is optional: an unreachable Interpreter's
// workers stop when it is garbage collected.
func (ip *Interpreter) Close() {
	ip.closed = true
	ip.pool.close()
}

// NumInputs is the number of the subgraph's inputs.
func (ip *Interpreter) NumInputs() int { return len(ip.inputs) }

// NumOutputs is the number of the subgraph's outputs.
func (ip *Interpreter) NumOutputs() int { return len(ip.outputs) }

// Input is the i-th input tensor; write its Data (or the slice of a typed
// accessor such as UInt8s) before Invoke. Nil when i is out of range.
func (ip *Interpreter) Input(i int) *Tensor {
	if i < 0 || i >= len(ip.inputs) {
		return nil
	}
	return &ip.tensors[ip.inputs[i]]
}

// Output is the i-th output tensor, valid after Invoke until the next one.
// Nil when i is out of range.
func (ip *Interpreter) Output(i int) *Tensor {
	if i < 0 || i >= len(ip.outputs) {
		return nil
	}
	return &ip.tensors[ip.outputs[i]]
}

// ArenaBytes is the size of the planned activation memory.
func (ip *Interpreter) ArenaBytes() int { return len(ip.arena) }

// Invoke runs the operators in order, checking ctx before each one.
func (ip *Interpreter) Invoke(ctx context.Context) error {
	if ip.closed {
		return ErrClosed
	}
	for i, k := range ip.kernels {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("tflite: before operators[%d] (%s): %w", i, ip.ops[i], err)
		}
		if err := k.eval(); err != nil {
			return fmt.Errorf("tflite: operators[%d] (%s): %w", i, ip.ops[i], err)
		}
	}
	return nil
}

// alignedCopy copies b into memory aligned for any element type.
func alignedCopy(b []byte) []byte {
	out := alignedBytes(len(b))
	copy(out, b)
	return out
}

// alignedBytes allocates n zero bytes aligned to 8.
func alignedBytes(n int) []byte {
	words := make([]uint64, (n+7)/8)
	if len(words) == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), len(words)*8)[:n]
}

// DefaultArenaLimit bounds the activation memory NewInterpreter allocates
// for one model unless WithArenaLimit says otherwise. Edge models need far
// less (SSD MobileNet v1: 1.6 MB); the limit stops a hostile file from making
// a node allocate gigabytes.
const DefaultArenaLimit = 256 << 20

// arenaAlign is the alignment of every tensor in the arena.
const arenaAlign = 64

// planArena gives every activation tensor (no constant data) a place in one
// arena. Two tensors share memory only when no operator needs both: a tensor
// lives from the operator that writes it (or the start, for inputs) to the
// last operator that reads it (or the end, for outputs). Placement is greedy
// by size, largest first, each at the lowest offset free over its lifetime.
func (ip *Interpreter) planArena(g *Subgraph) error {
	type life struct {
		tensor, first, last, size, offset int
	}
	for _, ti := range append(slices.Clone(g.Inputs), g.Outputs...) {
		if ti < 0 || ti >= len(ip.tensors) {
			return fmt.Errorf("tflite: subgraph input or output %d: no such tensor: %w", ti, ErrInterpreter)
		}
		if err := checkShape(&ip.tensors[ti]); err != nil {
			return fmt.Errorf("tflite: subgraph input or output: %w", err)
		}
	}
	n := len(g.Operators)
	lives := map[int]*life{}
	touch := func(ti, at int) {
		t := &ip.tensors[ti]
		if t.Data != nil {
			return
		}
		l := lives[ti]
		if l == nil {
			l = &life{tensor: ti, first: at, last: at, size: t.NumElements() * t.Type.Size()}
			lives[ti] = l
		}
		l.first = min(l.first, at)
		l.last = max(l.last, at)
	}
	for _, ti := range g.Inputs {
		touch(ti, -1)
	}
	for i, op := range g.Operators {
		for _, ti := range op.Inputs {
			if ti >= 0 {
				touch(ti, i)
			}
		}
		for _, ti := range op.Outputs {
			touch(ti, i)
		}
	}
	for _, ti := range g.Outputs {
		touch(ti, n)
	}
	order := make([]*life, 0, len(lives))
	for _, l := range lives {
		if ip.tensors[l.tensor].Type.Size() == 0 {
			return fmt.Errorf("tflite: tensors[%d] (%s): type %s has no fixed size: %w", l.tensor, ip.tensors[l.tensor].Name, ip.tensors[l.tensor].Type, ErrInterpreter)
		}
		order = append(order, l)
	}
	slices.SortFunc(order, func(a, b *life) int {
		if a.size != b.size {
			return b.size - a.size
		}
		return a.tensor - b.tensor
	})
	var placed []*life
	total := 0
	for _, l := range order {
		var overlapping []*life
		for _, p := range placed {
			if p.first <= l.last && l.first <= p.last {
				overlapping = append(overlapping, p)
			}
		}
		slices.SortFunc(overlapping, func(a, b *life) int { return a.offset - b.offset })
		offset := 0
		for _, p := range overlapping {
			if p.offset-offset >= l.size {
				break
			}
			offset = max(offset, alignUp(p.offset+p.size))
		}
		l.offset = offset
		total = max(total, alignUp(offset+l.size))
		placed = append(placed, l)
	}
	if total > ip.arenaLimit {
		return fmt.Errorf("tflite: the activations need %d bytes, more than the limit of %d: %w", total, ip.arenaLimit, ErrInterpreter)
	}
	ip.arena = alignedBytes(total)
	for _, l := range order {
		ip.tensors[l.tensor].Data = ip.arena[l.offset : l.offset+l.size : l.offset+l.size]
	}
	return nil
}

func alignUp(n int) int { return (n + arenaAlign - 1) / arenaAlign * arenaAlign }

// workerPool runs the parts of a kernel's work on long-lived goroutines, so
// that Invoke starts none. A kernel's work is split into more chunks than
// there are workers, taken in turn, so a worker slowed down by other
// processes on the machine holds up the others less.
type workerPool struct {
	n     int
	tasks chan int // worker numbers, one per helper asked to join
	wg    sync.WaitGroup
	once  sync.Once
	// the current job, set before helpers are asked to join
	fn     func(worker, lo, hi int)
	size   int
	chunks int
	next   atomic.Int64
}

// chunksPerWorker is how many chunks parallel makes per worker.
const chunksPerWorker = 4

func newWorkerPool(n int) *workerPool {
	p := &workerPool{n: n}
	if n > 1 {
		p.tasks = make(chan int, n)
		for range n - 1 {
			go p.helper()
		}
	}
	return p
}

func (p *workerPool) helper() {
	for w := range p.tasks {
		p.work(w)
		p.wg.Done()
	}
}

func (p *workerPool) close() {
	p.once.Do(func() {
		if p.tasks != nil {
			close(p.tasks)
		}
	})
}

// parallel calls fn(worker, lo, hi) over a split of [0, n) into contiguous
// chunks and returns when every chunk is done; worker (below p.n) numbers the
// goroutine running a chunk, for per-worker scratch memory. fn should be a
// value made once (a method value stored when the kernel is prepared), so a
// call allocates nothing.
func (p *workerPool) parallel(n int, fn func(worker, lo, hi int)) {
	if p.n <= 1 || n <= 1 {
		fn(0, 0, n)
		return
	}
	p.fn, p.size, p.chunks = fn, n, min(n, chunksPerWorker*p.n)
	p.next.Store(0)
	helpers := min(p.n, p.chunks) - 1
	p.wg.Add(helpers)
	for w := 1; w <= helpers; w++ {
		p.tasks <- w
	}
	p.work(0)
	p.wg.Wait()
	p.fn = nil
}

// work runs chunks of the current job until none is left.
func (p *workerPool) work(worker int) {
	for {
		c := int(p.next.Add(1)) - 1
		if c >= p.chunks {
			return
		}
		p.fn(worker, c*p.size/p.chunks, (c+1)*p.size/p.chunks)
	}
}
