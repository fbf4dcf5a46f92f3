package placementsim

import (
	"container/heap"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/edgeflow/edgeflow/internal/placement"
	"github.com/edgeflow/edgeflow/internal/threadclock"
)

// Result is what one run measured over the arrivals after the warm-up.
type Result struct {
	Algorithm string
	Nodes     int
	Load      float64
	Arrived   int // tasks arriving after the warm-up whose fate is known
	Accepted  int // of those, placed at once or after waiting at most MaxWait
	Immediate int // of those, placed at once
	// CPUUtilisation and MemoryUtilisation are the time-averaged shares of
	// the cluster's CPU and memory that running tasks requested.
	CPUUtilisation    float64
	MemoryUtilisation float64
	// Fragmentation is the time-averaged share of free CPU and memory (mean
	// of the two) sitting on nodes that cannot take the median task.
	Fragmentation float64
	Decisions     int // Plan calls timed (one task each)
	// Latency is wall-clock time per Plan call; CPU is the CPU time the
	// deciding thread used for it (0 where the platform has no thread
	// clock), which leaves out waiting for a core on a busy machine.
	LatencyP50 time.Duration
	LatencyP99 time.Duration
	LatencyMax time.Duration
	CPUP50     time.Duration
	CPUP99     time.Duration
}

// AcceptanceRate is Accepted / Arrived.
func (r Result) AcceptanceRate() float64 {
	if r.Arrived == 0 {
		return 0
	}
	return float64(r.Accepted) / float64(r.Arrived)
}

// retriesPerDeparture bounds how many waiting tasks are tried when a task
// leaves: one departure rarely frees room for more.
//
// The run starts from Workload.Prefill, placed by the same planner (untimed,
// uncounted; what does not fit is dropped).
const retriesPerDeparture = 8

type departure struct {
	at     time.Duration
	nodeID string
	task   placement.Task
}

type departures []departure

func (d departures) Len() int           { return len(d) }
func (d departures) Less(i, j int) bool { return d[i].at < d[j].at }
func (d departures) Swap(i, j int)      { d[i], d[j] = d[j], d[i] }
func (d *departures) Push(x any)        { *d = append(*d, x.(departure)) }
func (d *departures) Pop() any {
	old := *d
	x := old[len(old)-1]
	*d = old[:len(old)-1]
	return x
}

type waiting struct {
	task     placement.Task
	deadline time.Duration
	counted  bool // arrived after the warm-up
}

// Run simulates the workload with planner p.
func Run(ctx context.Context, p *placement.Planner, w Workload) (Result, error) {
	return run(ctx, p, w, false)
}

// RunPooled runs the workload's stream on a relaxation of its cluster: the
// nodes of each shape merged into one node with their summed capacity (and
// the shape's arch and accelerators), the tasks' anti-affinity dropped. A
// task then fits as long as its shape's nodes have enough free in total, so
// no fragmentation is possible; every placement on the real cluster is one on
// the pooled cluster. Its utilisation at a given acceptance estimates the
// ceiling any placement policy can reach on the real cluster (an estimate,
// not a proof: it admits in one order, first come first served).
func RunPooled(ctx context.Context, p *placement.Planner, w Workload) (Result, error) {
	return run(ctx, p, w, true)
}

// poolByShape merges the nodes of each shape into one node.
func poolByShape(nodes []placement.NodeStatus) []placement.NodeStatus {
	var out []placement.NodeStatus
	at := map[string]int{}
	for _, n := range nodes {
		shape := n.Labels["shape"]
		i, ok := at[shape]
		if !ok {
			i = len(out)
			at[shape] = i
			out = append(out, placement.NodeStatus{
				ID:              "pool-" + shape,
				Labels:          map[string]string{"arch": n.Labels["arch"], "shape": shape},
				AcceleratorKind: n.AcceleratorKind,
			})
		}
		out[i].Capacity = out[i].Capacity.Add(n.Capacity)
	}
	return out
}

// withoutSpread is t without its anti-affinity.
func withoutSpread(t placement.Task) placement.Task {
	t.Group, t.Constraints.Spread = "", placement.Spread{}
	return t
}

func run(ctx context.Context, p *placement.Planner, w Workload, pooled bool) (Result, error) {
	if err := w.validate(); err != nil {
		return Result{}, err
	}
	if w.MaxWait == 0 {
		w.MaxWait = 10 * time.Second
	}
	cpuClock, release, haveCPU := threadclock.Start()
	defer release()
	if w.Warmup == 0 {
		w.Warmup = 0.25
	}
	nodes := w.NodeStatuses()
	stream := w.Stream(nodes)
	prefill := w.Prefill(nodes)
	if pooled {
		nodes = poolByShape(nodes)
		stream = slices.Clone(stream)
		for i := range stream {
			stream[i].Task = withoutSpread(stream[i].Task)
		}
		for i := range prefill {
			prefill[i] = withoutSpread(prefill[i])
		}
	}
	st := placement.NewState()
	var capacity placement.Resources
	for i, n := range nodes {
		if err := st.UpsertNode(n); err != nil {
			return Result{}, fmt.Errorf("nodes[%d]: %w", i, err)
		}
		capacity = capacity.Add(n.Capacity)
	}
	ref := medianRequest(stream)
	start := stream[int(float64(len(stream))*w.Warmup)].At
	end := stream[len(stream)-1].At
	sampleEvery := max((end-start)/200, time.Millisecond)

	res := Result{Algorithm: p.Algorithm.Name, Nodes: w.Nodes, Load: w.Load}
	var (
		now                 time.Duration
		allocCPU, allocMem  int64
		areaCPU, areaMem    float64
		fragSum             float64
		fragSamples         int
		nextSample          = start
		latencies, cpuTimes []time.Duration
		queue               []waiting
		leaving             departures
		epoch               = time.Unix(0, 0)
	)
	advance := func(to time.Duration) {
		if to > start {
			from := max(now, start)
			areaCPU += float64(allocCPU) * float64(to-from)
			areaMem += float64(allocMem) * float64(to-from)
		}
		now = to
	}
	// try plans one task; it reports whether the task was placed.
	try := func(t placement.Task, timed bool) (bool, error) {
		sn := st.Snapshot(epoch, 0)
		var cpuBegan time.Duration
		if haveCPU {
			cpuBegan = cpuClock()
		}
		began := time.Now()
		plan, err := p.Plan(ctx, sn, []placement.Task{t})
		took := time.Since(began)
		if haveCPU && timed && now >= start {
			cpuTimes = append(cpuTimes, cpuClock()-cpuBegan)
		}
		if err != nil {
			return false, err
		}
		if timed && now >= start {
			latencies = append(latencies, took)
		}
		if len(plan.Placements) == 0 {
			return false, nil
		}
		if err := st.Apply(plan); err != nil {
			return false, fmt.Errorf("apply %s: %w", t.ID, err)
		}
		pl := plan.Placements[0]
		allocCPU += pl.Task.Request.MilliCPU
		allocMem += pl.Task.Request.MemoryBytes
		heap.Push(&leaving, departure{at: now + pl.Task.Duration, nodeID: pl.NodeID, task: pl.Task})
		return true, nil
	}
	for _, t := range prefill {
		if _, err := try(t, false); err != nil {
			return Result{}, err
		}
	}
	for i := 0; i < len(stream); {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		for now >= nextSample && nextSample <= end {
			fragSum += fragmentation(st.Snapshot(epoch, 0), ref)
			fragSamples++
			nextSample += sampleEvery
		}
		if len(leaving) > 0 && leaving[0].at <= stream[i].At {
			d := heap.Pop(&leaving).(departure)
			advance(d.at)
			if err := st.Finish(d.nodeID, d.task.ID); err != nil {
				return Result{}, err
			}
			allocCPU -= d.task.Request.MilliCPU
			allocMem -= d.task.Request.MemoryBytes
			_, room, _, err := st.Snapshot(epoch, 0).Node(d.nodeID)
			if err != nil {
				return Result{}, err
			}
			tried := 0
			queue = slices.DeleteFunc(queue, func(q waiting) bool {
				if q.deadline < now { // waited too long: rejected
					if q.counted {
						res.Arrived++
					}
					return true
				}
				// Only the node the task left gained room: a waiting task
				// it cannot hold still fits nowhere (Kubernetes' queueing hints).
				need := q.task.Request
				if q.task.Constraints.Accelerator != "" {
					need.Accelerators = max(need.Accelerators, 1)
				}
				if tried >= retriesPerDeparture || !room.Covers(need) {
					return false
				}
				tried++
				ok, err := try(q.task, true)
				if err != nil || !ok {
					return false
				}
				if q.counted {
					res.Arrived++
					res.Accepted++
				}
				return true
			})
			continue
		}
		a := stream[i]
		i++
		advance(a.At)
		counted := a.At >= start && a.At+w.MaxWait <= end // its fate is known by the end
		ok, err := try(a.Task, true)
		if err != nil {
			return Result{}, err
		}
		switch {
		case ok && counted:
			res.Arrived++
			res.Accepted++
			res.Immediate++
		case !ok:
			queue = append(queue, waiting{task: a.Task, deadline: a.At + w.MaxWait, counted: counted})
		}
	}
	for _, q := range queue { // still waiting at the end: rejected if out of time
		if q.counted && q.deadline <= end {
			res.Arrived++
		}
	}
	window := float64(end - start)
	if window > 0 {
		res.CPUUtilisation = areaCPU / window / float64(capacity.MilliCPU)
		res.MemoryUtilisation = areaMem / window / float64(capacity.MemoryBytes)
	}
	if fragSamples > 0 {
		res.Fragmentation = fragSum / float64(fragSamples)
	}
	res.Decisions = len(latencies)
	if len(latencies) > 0 {
		slices.Sort(latencies)
		res.LatencyP50 = latencies[len(latencies)/2]
		res.LatencyP99 = latencies[min(len(latencies)-1, len(latencies)*99/100)]
		res.LatencyMax = latencies[len(latencies)-1]
	}
	if len(cpuTimes) > 0 {
		slices.Sort(cpuTimes)
		res.CPUP50 = cpuTimes[len(cpuTimes)/2]
		res.CPUP99 = cpuTimes[min(len(cpuTimes)-1, len(cpuTimes)*99/100)]
	}
	return res, nil
}

// medianRequest is the median CPU and the median memory of the stream.
func medianRequest(stream []Arrival) placement.Resources {
	cpu := make([]int64, len(stream))
	mem := make([]int64, len(stream))
	for i, a := range stream {
		cpu[i], mem[i] = a.Task.Request.MilliCPU, a.Task.Request.MemoryBytes
	}
	slices.Sort(cpu)
	slices.Sort(mem)
	return placement.Resources{MilliCPU: cpu[len(cpu)/2], MemoryBytes: mem[len(mem)/2]}
}

// fragmentation is the mean over CPU and memory of the share of free
// capacity on nodes whose free CPU or memory is below ref.
func fragmentation(sn *placement.Snapshot, ref placement.Resources) float64 {
	var freeCPU, freeMem, strandedCPU, strandedMem float64
	sn.ForEachNode(func(_ *placement.NodeInfo, free placement.Resources, up bool) {
		if !up {
			return
		}
		freeCPU += float64(free.MilliCPU)
		freeMem += float64(free.MemoryBytes)
		if free.MilliCPU < ref.MilliCPU || free.MemoryBytes < ref.MemoryBytes {
			strandedCPU += float64(free.MilliCPU)
			strandedMem += float64(free.MemoryBytes)
		}
	})
	var f float64
	if freeCPU > 0 {
		f += strandedCPU / freeCPU / 2
	}
	if freeMem > 0 {
		f += strandedMem / freeMem / 2
	}
	return f
}
