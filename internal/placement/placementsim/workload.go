package placementsim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/edgeflow/edgeflow/internal/placement"
)

const (
	mib = 1 << 20
	gib = 1 << 30
)

// Workload describes one simulated run.
type Workload struct {
	Nodes    int     // cluster size
	Load     float64 // offered CPU as a share of the cluster's CPU (1 = exactly full on average)
	Arrivals int     // tasks in the stream
	Seed     uint64  // nodes and tasks are a function of the seed
	// MaxWait is how long (simulated) a task may wait for room before it is
	// rejected; 0 means 30 s.
	MaxWait time.Duration
	// Warmup is the share of arrivals before measuring starts; 0 means 0.25.
	Warmup float64
}

func (w Workload) validate() error {
	switch {
	case w.Nodes <= 0:
		return fmt.Errorf("workload.nodes: %d, want > 0", w.Nodes)
	case w.Arrivals <= 0:
		return fmt.Errorf("workload.arrivals: %d, want > 0", w.Arrivals)
	case !(w.Load > 0) || math.IsInf(w.Load, 0):
		return fmt.Errorf("workload.load: %v, want > 0", w.Load)
	case w.Warmup < 0 || w.Warmup >= 1:
		return fmt.Errorf("workload.warmup: %v, want in [0,1)", w.Warmup)
	}
	return nil
}

// nodeShape is one kind of edge node.
type nodeShape struct {
	name   string
	weight float64
	cpu    int64 // millicores
	mem    int64 // bytes
	disk   int64
	npus   int64
	arch   string
}

// The node mix: different sizes and CPU:memory ratios, so packing matters.
var nodeShapes = []nodeShape{
	{"pi", 0.30, 4000, 4 * gib, 32 * gib, 0, "arm64"},
	{"gateway-mem", 0.20, 4000, 16 * gib, 128 * gib, 0, "amd64"},
	{"gateway-cpu", 0.20, 16000, 8 * gib, 128 * gib, 0, "amd64"},
	{"server", 0.20, 16000, 32 * gib, 512 * gib, 0, "amd64"},
	{"npu-box", 0.10, 8000, 16 * gib, 128 * gib, 4, "arm64"},
}

// Nodes draws the workload's nodes.
func (w Workload) NodeStatuses() []placement.NodeStatus {
	rng := rand.New(rand.NewPCG(w.Seed, 1))
	zones := max(1, min(w.Nodes/4, 8))
	sites := max(1, min(w.Nodes/3, 50))
	out := make([]placement.NodeStatus, w.Nodes)
	for i := range out {
		s := pickShape(rng)
		n := placement.NodeStatus{
			ID: fmt.Sprintf("node-%05d", i),
			Labels: map[string]string{
				placement.LabelZone: fmt.Sprintf("zone-%d", rng.IntN(zones)),
				placement.LabelSite: fmt.Sprintf("site-%d", rng.IntN(sites)),
				"arch":              s.arch,
				"shape":             s.name,
			},
			Capacity: placement.Resources{MilliCPU: s.cpu, MemoryBytes: s.mem, DiskBytes: s.disk, Accelerators: s.npus},
		}
		if s.npus > 0 {
			n.AcceleratorKind = "npu"
		}
		out[i] = n
	}
	return out
}

func pickShape(rng *rand.Rand) nodeShape {
	x := rng.Float64()
	for _, s := range nodeShapes {
		if x -= s.weight; x < 0 {
			return s
		}
	}
	return nodeShapes[len(nodeShapes)-1]
}

// Arrival is one task of the stream and when it arrives.
type Arrival struct {
	At   time.Duration // since the start
	Task placement.Task
}

// Durations are Pareto with this shape and mean, capped at durationCap means.
const (
	durationAlpha = 2.0
	meanDuration  = 60.0 // seconds
	durationCap   = 50.0
)

// Stream draws the workload's tasks and their arrival times: CPU log-normal
// (median 400m, σ 1, 50m–8 cores), memory from a CPU-heavy (0.25 GiB per
// core), balanced (1 GiB) or memory-heavy (3.3 GiB) shape with log-normal
// jitter (≤ 16 GiB), durations Pareto (α 2, mean 60 s, ≤ 50 × mean).
// Some tasks need arm64 (10 %), an NPU (1.5 %), prefer a site (20 %) or are
// replicas with anti-affinity (10 %, in groups of up to 3
// consecutive tasks). The arrival rate offers
// Load × the cluster's CPU: rate × mean(cpu × duration) = Load × total CPU.
func (w Workload) Stream(nodes []placement.NodeStatus) []Arrival {
	rng := rand.New(rand.NewPCG(w.Seed, 2))
	xm := meanDuration * (durationAlpha - 1) / durationAlpha
	tasks := make([]placement.Task, w.Arrivals)
	var sumCPUSeconds float64
	for i := range tasks {
		d := min(xm/math.Pow(1-rng.Float64(), 1/durationAlpha), durationCap*meanDuration)
		tasks[i] = drawTask(rng, "task", i, d, nodes)
		sumCPUSeconds += float64(tasks[i].Request.MilliCPU) * d
	}
	rate := w.Load * totalCPU(nodes) / (sumCPUSeconds / float64(len(tasks))) // arrivals per second
	out := make([]Arrival, len(tasks))
	var at float64
	for i, t := range tasks {
		at += rng.ExpFloat64() / rate
		out[i] = Arrival{At: time.Duration(at * float64(time.Second)), Task: t}
	}
	return out
}

// Prefill draws the tasks running at time 0 if the stream had been running
// forever: as many as the load keeps in the system on average (Load × total
// CPU / mean CPU), each with a residual duration from the Pareto's
// equilibrium distribution. Starting from them, the simulation needs no long
// warm-up to reach a steady state.
func (w Workload) Prefill(nodes []placement.NodeStatus) []placement.Task {
	rng := rand.New(rand.NewPCG(w.Seed, 3))
	a := durationAlpha
	xm := meanDuration * (a - 1) / a
	var tasks []placement.Task
	var sumCPU float64
	target := w.Load * totalCPU(nodes)
	for i := 0; sumCPU < target; i++ {
		// Equilibrium residual life: F(x) = x/mean below xm, 1 - (xm/x)^(a-1)/a above.
		var d float64
		if u := rng.Float64(); u < (a-1)/a {
			d = u * meanDuration
		} else {
			d = xm * math.Pow(a*(1-u), -1/(a-1))
		}
		d = min(d, durationCap*meanDuration)
		t := drawTask(rng, "prefill", i, d, nodes)
		sumCPU += float64(t.Request.MilliCPU)
		tasks = append(tasks, t)
	}
	return tasks
}

func totalCPU(nodes []placement.NodeStatus) float64 {
	var sum float64
	for _, n := range nodes {
		sum += float64(n.Capacity.MilliCPU)
	}
	return sum
}

// drawTask draws a task's size and constraints; d is its duration in seconds.
func drawTask(rng *rand.Rand, prefix string, i int, d float64, nodes []placement.NodeStatus) placement.Task {
	cpu := int64(math.Exp(math.Log(400) + 1.0*rng.NormFloat64()))
	cpu = min(max(cpu, 50), 8000)
	perCore := []float64{0.25, 1, 3.3}[rng.IntN(3)] * math.Exp(0.3*rng.NormFloat64())
	mem := int64(float64(cpu) / 1000 * perCore * gib)
	mem = min(max(mem, 16*mib), 16*gib)
	t := placement.Task{
		ID:       fmt.Sprintf("%s-%07d", prefix, i),
		Request:  placement.Resources{MilliCPU: cpu, MemoryBytes: mem, DiskBytes: int64(rng.IntN(1024)) * mib},
		Duration: time.Duration(d * float64(time.Second)),
	}
	switch x := rng.Float64(); {
	case x < 0.10:
		t.Constraints.RequiredLabels = map[string]string{"arch": "arm64"}
	case x < 0.115:
		t.Constraints.Accelerator = "npu"
	}
	if rng.Float64() < 0.2 {
		t.Constraints.NearSite = nodes[rng.IntN(len(nodes))].Labels[placement.LabelSite]
	}
	if rng.Float64() < 0.1 {
		t.Group = fmt.Sprintf("%s-pipeline-%d", prefix, i/3)
		t.Constraints.Spread.MaxPerNode = 1
	}
	return t
}
