//go:build linux

package edge

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// readCPU reads /proc/stat under root and the cgroup v2 cpu.max, returning the
// counters and the capacity in millicores.
func readCPU(root string) (CPUTimes, int64, error) {
	data, err := os.ReadFile(filepath.Join(root, "proc/stat"))
	if err != nil {
		return CPUTimes{}, 0, fmt.Errorf("cpu: %w", err)
	}
	times, cpus, err := ParseProcStat(data)
	if err != nil {
		return CPUTimes{}, 0, err
	}
	capacity := int64(cpus) * 1000
	if data, err := os.ReadFile(filepath.Join(root, "sys/fs/cgroup/cpu.max")); err == nil {
		limit, limited, err := ParseCgroupCPUMax(data)
		if err != nil {
			return CPUTimes{}, 0, err
		}
		if limited && limit < capacity {
			capacity = limit
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return CPUTimes{}, 0, fmt.Errorf("cpu.max: %w", err)
	}
	return times, capacity, nil
}

// readMemory reads /proc/meminfo under root, lowered to the cgroup v2 limit
// (memory.max minus memory.current) when one is set.
func readMemory(root string) (capacity, free int64, err error) {
	data, err := os.ReadFile(filepath.Join(root, "proc/meminfo"))
	if err != nil {
		return 0, 0, fmt.Errorf("memory: %w", err)
	}
	capacity, free, err = ParseMeminfo(data)
	if err != nil {
		return 0, 0, err
	}
	data, err = os.ReadFile(filepath.Join(root, "sys/fs/cgroup/memory.max"))
	if err != nil {
		return capacity, free, nil
	}
	limit, limited, err := ParseCgroupMemoryMax(data)
	if err != nil || !limited || limit >= capacity {
		return capacity, free, err
	}
	capacity = limit
	if data, err := os.ReadFile(filepath.Join(root, "sys/fs/cgroup/memory.current")); err == nil {
		if used, ok, err := ParseCgroupMemoryMax(data); err == nil && ok {
			free = min(free, max(limit-used, 0))
		}
	}
	return capacity, min(free, capacity), nil
}

// readDisk returns the size and the space available to unprivileged users of
// the file system holding dir.
func readDisk(dir string) (capacity, free int64, err error) {
	var st syscall.Statfs_t
	// A data dir not made yet lives on the file system of its nearest parent.
	for at := dir; ; at = filepath.Dir(at) {
		err := syscall.Statfs(at, &st)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) || filepath.Dir(at) == at {
			return 0, 0, fmt.Errorf("disk: statfs %s: %w", dir, err)
		}
	}
	return int64(st.Blocks) * int64(st.Bsize), int64(st.Bavail) * int64(st.Bsize), nil
}
