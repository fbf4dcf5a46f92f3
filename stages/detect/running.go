package detect

import (
	"slices"
	"sync"
)

// The detect stages built by pipelines, by pipeline name, so that the code
// delivering new models (over-the-air updates, federated rounds, a future
// model topic) can reach them without the pipeline runtime knowing about
// models: Running(pipeline) lists them, SwapModel replaces their model.
var (
	runningMu sync.Mutex
	running   = map[string][]*Detector{}
)

// Running returns the open detect stages of the pipeline with the given name
// on this node, in the order they were built.
func Running(pipeline string) []*Detector {
	runningMu.Lock()
	defer runningMu.Unlock()
	return slices.Clone(running[pipeline])
}

func track(pipeline string, d *Detector) {
	runningMu.Lock()
	defer runningMu.Unlock()
	d.pipeline = pipeline
	running[pipeline] = append(running[pipeline], d)
}

func untrack(d *Detector) {
	runningMu.Lock()
	defer runningMu.Unlock()
	list := slices.DeleteFunc(running[d.pipeline], func(x *Detector) bool { return x == d })
	if len(list) == 0 {
		delete(running, d.pipeline)
		return
	}
	running[d.pipeline] = list
}
