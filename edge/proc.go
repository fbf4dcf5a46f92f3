package edge

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// CPUTimes are the aggregate CPU counters of /proc/stat's "cpu" line, in clock
// ticks since boot.
type CPUTimes struct {
	Total uint64 // every column summed (guest time is already in user and nice)
	Idle  uint64 // idle + iowait
}

// ParseProcStat reads /proc/stat: the aggregate "cpu" line and the number of
// per-CPU "cpuN" lines. Errors name the line.
func ParseProcStat(data []byte) (times CPUTimes, cpus int, err error) {
	found := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || !strings.HasPrefix(fields[0], "cpu") {
			continue
		}
		if fields[0] != "cpu" {
			if _, err := strconv.Atoi(fields[0][3:]); err == nil {
				cpus++
			}
			continue
		}
		if len(fields) < 5 {
			return CPUTimes{}, 0, fmt.Errorf("/proc/stat:%d: cpu line has %d columns, want at least 4", line, len(fields)-1)
		}
		// user nice system idle iowait irq softirq steal guest guest_nice;
		// guest and guest_nice are counted in user and nice already.
		var t CPUTimes
		for i, f := range fields[1:] {
			v, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				return CPUTimes{}, 0, fmt.Errorf("/proc/stat:%d: cpu column %d: %w", line, i+1, err)
			}
			if i >= 8 {
				break
			}
			t.Total += v
			if i == 3 || i == 4 {
				t.Idle += v
			}
		}
		times, found = t, true
	}
	if err := sc.Err(); err != nil {
		return CPUTimes{}, 0, fmt.Errorf("/proc/stat: %w", err)
	}
	if !found {
		return CPUTimes{}, 0, fmt.Errorf("/proc/stat: no aggregate cpu line")
	}
	if cpus == 0 {
		cpus = 1
	}
	return times, cpus, nil
}

// FreeMilliCPU is the share of capacity idle between two /proc/stat samples:
// capacity × idle ticks / all ticks. With no ticks in between it is capacity.
func FreeMilliCPU(prev, cur CPUTimes, capacity int64) int64 {
	if cur.Total <= prev.Total || cur.Idle < prev.Idle {
		return capacity
	}
	total, idle := cur.Total-prev.Total, cur.Idle-prev.Idle
	if idle > total {
		idle = total
	}
	return int64(float64(capacity) * float64(idle) / float64(total))
}

// ParseMeminfo reads MemTotal and MemAvailable from /proc/meminfo, in bytes.
// Kernels before 3.14 lack MemAvailable; then it is MemFree + Buffers + Cached.
func ParseMeminfo(data []byte) (total, available int64, err error) {
	vals := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch key {
		case "MemTotal", "MemAvailable", "MemFree", "Buffers", "Cached":
		default:
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0, 0, fmt.Errorf("/proc/meminfo:%d: %s: no value", line, key)
		}
		v, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || v < 0 {
			return 0, 0, fmt.Errorf("/proc/meminfo:%d: %s: %q is not a count of kB", line, key, fields[0])
		}
		mult := int64(1)
		if len(fields) > 1 && strings.EqualFold(fields[1], "kB") {
			mult = 1024
		}
		if v > (1<<62)/mult {
			return 0, 0, fmt.Errorf("/proc/meminfo:%d: %s: %d kB is too large", line, key, v)
		}
		vals[key] = v * mult
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("/proc/meminfo: %w", err)
	}
	total, ok := vals["MemTotal"]
	if !ok {
		return 0, 0, fmt.Errorf("/proc/meminfo: no MemTotal line")
	}
	available, ok = vals["MemAvailable"]
	if !ok {
		available = vals["MemFree"] + vals["Buffers"] + vals["Cached"]
	}
	return total, min(available, total), nil
}

// ParseCgroupMemoryMax reads a cgroup v2 memory.max or memory.current file: a
// byte count, or "max" for no limit (limited false).
func ParseCgroupMemoryMax(data []byte) (bytes int64, limited bool, err error) {
	s := strings.TrimSpace(string(data))
	if s == "max" {
		return 0, false, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, false, fmt.Errorf("memory.max: %q is neither a byte count nor \"max\"", s)
	}
	return v, true, nil
}

// ParseCgroupCPUMax reads a cgroup v2 cpu.max file, "QUOTA PERIOD" in
// microseconds ("max PERIOD" for no limit), as millicores.
func ParseCgroupCPUMax(data []byte) (milliCPU int64, limited bool, err error) {
	fields := strings.Fields(string(data))
	if len(fields) == 0 || len(fields) > 2 {
		return 0, false, fmt.Errorf("cpu.max: %q: want QUOTA PERIOD", strings.TrimSpace(string(data)))
	}
	period := int64(100000)
	if len(fields) == 2 {
		p, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil || p <= 0 {
			return 0, false, fmt.Errorf("cpu.max: period %q is not a positive number of microseconds", fields[1])
		}
		period = p
	}
	if fields[0] == "max" {
		return 0, false, nil
	}
	quota, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil || quota <= 0 {
		return 0, false, fmt.Errorf("cpu.max: quota %q is neither a positive number of microseconds nor \"max\"", fields[0])
	}
	if quota > (1<<62)/1000 {
		return 0, false, fmt.Errorf("cpu.max: quota %d is too large", quota)
	}
	return quota * 1000 / period, true, nil
}
