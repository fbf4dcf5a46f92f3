package placement

import "fmt"

// Resources is an amount of each resource a node offers or a task requests.
// Zero means none; negative amounts are invalid.
type Resources struct {
	MilliCPU     int64 // CPU in thousandths of a core
	MemoryBytes  int64
	DiskBytes    int64
	Accelerators int64 // accelerator devices (NPU, GPU, TPU) of the node's kind
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	return Resources{r.MilliCPU + o.MilliCPU, r.MemoryBytes + o.MemoryBytes, r.DiskBytes + o.DiskBytes, r.Accelerators + o.Accelerators}
}

// Sub returns r - o.
func (r Resources) Sub(o Resources) Resources {
	return Resources{r.MilliCPU - o.MilliCPU, r.MemoryBytes - o.MemoryBytes, r.DiskBytes - o.DiskBytes, r.Accelerators - o.Accelerators}
}

// Covers reports whether r is at least o in every resource: a node with free
// resources r can take a request o.
func (r Resources) Covers(o Resources) bool {
	return r.MilliCPU >= o.MilliCPU && r.MemoryBytes >= o.MemoryBytes && r.DiskBytes >= o.DiskBytes && r.Accelerators >= o.Accelerators
}

// negative reports whether any amount of r is below zero.
func (r Resources) negative() bool {
	return r.MilliCPU < 0 || r.MemoryBytes < 0 || r.DiskBytes < 0 || r.Accelerators < 0
}

// validate returns an error naming the first negative field, prefixed by where.
func (r Resources) validate(where string) error {
	switch {
	case r.MilliCPU < 0:
		return fmt.Errorf("%s.milli_cpu: %d is negative", where, r.MilliCPU)
	case r.MemoryBytes < 0:
		return fmt.Errorf("%s.memory_bytes: %d is negative", where, r.MemoryBytes)
	case r.DiskBytes < 0:
		return fmt.Errorf("%s.disk_bytes: %d is negative", where, r.DiskBytes)
	case r.Accelerators < 0:
		return fmt.Errorf("%s.accelerators: %d is negative", where, r.Accelerators)
	}
	return nil
}

// String formats r compactly, e.g. "cpu=500m mem=256MiB".
func (r Resources) String() string {
	s := fmt.Sprintf("cpu=%dm mem=%dMiB", r.MilliCPU, r.MemoryBytes>>20)
	if r.DiskBytes != 0 {
		s += fmt.Sprintf(" disk=%dMiB", r.DiskBytes>>20)
	}
	if r.Accelerators != 0 {
		s += fmt.Sprintf(" acc=%d", r.Accelerators)
	}
	return s
}
