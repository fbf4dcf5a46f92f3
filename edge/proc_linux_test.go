//go:build linux

package edge

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeflow/edgeflow/internal/fleet"
)

// fakeRoot lays out proc/stat, proc/meminfo and, when cgroup is not "",
// sys/fs/cgroup from testdata/proc/cgroup.
func fakeRoot(t *testing.T, stat, cgroup string) string {
	t.Helper()
	root := t.TempDir()
	copyFile := func(from, to string) {
		data, err := os.ReadFile(filepath.Join("testdata", "proc", from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, to)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, to), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(stat, "proc/stat")
	copyFile("meminfo", "proc/meminfo")
	if cgroup != "" {
		entries, err := os.ReadDir(filepath.Join("testdata", "proc", cgroup))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			copyFile(filepath.Join(cgroup, e.Name()), filepath.Join("sys/fs/cgroup", e.Name()))
		}
	}
	return root
}

func TestResourceSamplerLinux(t *testing.T) {
	free := int64(1)
	tests := []struct {
		name         string
		cgroup       string
		wantCapacity fleet.HeartbeatResources
		wantFree     fleet.HeartbeatResources
	}{
		{name: "no cgroup", wantCapacity: fleet.HeartbeatResources{MilliCPU: 4000, MemoryBytes: 8039396 * 1024, Accelerators: 2},
			wantFree: fleet.HeartbeatResources{MilliCPU: 3200, MemoryBytes: 5122108 * 1024, Accelerators: 1}},
		{name: "cgroup without limits", cgroup: "cgroup-unlimited",
			wantCapacity: fleet.HeartbeatResources{MilliCPU: 4000, MemoryBytes: 8039396 * 1024, Accelerators: 2},
			wantFree:     fleet.HeartbeatResources{MilliCPU: 3200, MemoryBytes: 5122108 * 1024, Accelerators: 1}},
		{name: "cgroup limits of 2 cpus and 512 MiB, 128 MiB used", cgroup: "cgroup-limited",
			wantCapacity: fleet.HeartbeatResources{MilliCPU: 2000, MemoryBytes: 512 << 20, Accelerators: 2},
			wantFree:     fleet.HeartbeatResources{MilliCPU: 1600, MemoryBytes: 384 << 20, Accelerators: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fakeRoot(t, "stat", tt.cgroup)
			s := &ResourceSampler{Root: root, DataDir: t.TempDir(), Accelerators: []fleet.Accelerator{{Kind: "npu", Count: 2, Free: &free}}}
			if _, _, err := s.Sample(); err != nil {
				t.Fatal(err)
			}
			// The second sample sees 1000 ticks, 800 of them idle.
			later := fakeRoot(t, "stat-later", tt.cgroup)
			s.Root = later
			capacity, got, err := s.Sample()
			if err != nil {
				t.Fatal(err)
			}
			if capacity.DiskBytes <= 0 || got.DiskBytes <= 0 || got.DiskBytes > capacity.DiskBytes {
				t.Errorf("disk capacity %d free %d", capacity.DiskBytes, got.DiskBytes)
			}
			capacity.DiskBytes, got.DiskBytes = 0, 0
			if capacity != tt.wantCapacity || got != tt.wantFree {
				t.Fatalf("Sample = %+v, %+v; want %+v, %+v", capacity, got, tt.wantCapacity, tt.wantFree)
			}
		})
	}
}

func TestResourceSamplerRealProc(t *testing.T) {
	s := &ResourceSampler{DataDir: t.TempDir()}
	capacity, free, err := s.Sample()
	if err != nil {
		t.Fatal(err)
	}
	if capacity.MilliCPU < 1000 || capacity.MemoryBytes <= 0 || capacity.DiskBytes <= 0 ||
		free.MilliCPU > capacity.MilliCPU || free.MemoryBytes > capacity.MemoryBytes {
		t.Fatalf("Sample = %+v, %+v", capacity, free)
	}
}

func TestResourceSamplerNamesMissingFiles(t *testing.T) {
	s := &ResourceSampler{Root: t.TempDir()}
	if _, _, err := s.Sample(); err == nil {
		t.Fatal("Sample of an empty root: no error")
	}
}
