package edge

import (
	"os"
	"path/filepath"
	"testing"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "proc", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name      string
		data      []byte
		want      CPUTimes
		wantCPUs  int
		wantError bool
	}{
		{name: "fixture with four cpus", data: readFixture(t, "stat"),
			want: CPUTimes{Total: 10132153 + 290696 + 3084719 + 46828483 + 16683 + 0 + 25195 + 0, Idle: 46828483 + 16683}, wantCPUs: 4},
		{name: "old kernel with four columns", data: []byte("cpu 1 2 3 4\n"), want: CPUTimes{Total: 10, Idle: 4}, wantCPUs: 1},
		{name: "no cpu line", data: []byte("intr 1\n"), wantError: true},
		{name: "short cpu line", data: []byte("cpu 1 2\n"), wantError: true},
		{name: "not a number", data: []byte("cpu 1 2 x 4\n"), wantError: true},
		{name: "empty", data: nil, wantError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, cpus, err := ParseProcStat(tt.data)
			if tt.wantError {
				if err == nil {
					t.Fatalf("ParseProcStat = %+v, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want || cpus != tt.wantCPUs {
				t.Fatalf("ParseProcStat = %+v, %d, %v; want %+v, %d", got, cpus, err, tt.want, tt.wantCPUs)
			}
		})
	}
}

func TestFreeMilliCPU(t *testing.T) {
	prev, _, err := ParseProcStat(readFixture(t, "stat"))
	if err != nil {
		t.Fatal(err)
	}
	cur, _, err := ParseProcStat(readFixture(t, "stat-later"))
	if err != nil {
		t.Fatal(err)
	}
	// 1000 ticks passed, 800 idle: 80 % of 4000 millicores is free.
	tests := []struct {
		name      string
		prev, cur CPUTimes
		capacity  int64
		want      int64
	}{
		{"fixtures 80 % idle", prev, cur, 4000, 3200},
		{"no ticks", cur, cur, 4000, 4000},
		{"counter went back", cur, prev, 2000, 2000},
		{"since boot", CPUTimes{}, CPUTimes{Total: 100, Idle: 25}, 1000, 250},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FreeMilliCPU(tt.prev, tt.cur, tt.capacity); got != tt.want {
				t.Fatalf("FreeMilliCPU = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestParseMeminfo(t *testing.T) {
	tests := []struct {
		name             string
		data             []byte
		total, available int64
		wantError        bool
	}{
		{name: "fixture", data: readFixture(t, "meminfo"), total: 8039396 * 1024, available: 5122108 * 1024},
		{name: "kernel without MemAvailable", data: readFixture(t, "meminfo-old-kernel"), total: 1000 * 1024, available: 420 * 1024},
		{name: "no MemTotal", data: []byte("MemFree: 1 kB\n"), wantError: true},
		{name: "bad number", data: []byte("MemTotal: lots kB\n"), wantError: true},
		{name: "no value", data: []byte("MemTotal:\n"), wantError: true},
		{name: "overflow", data: []byte("MemTotal: 9223372036854775807 kB\n"), wantError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			total, avail, err := ParseMeminfo(tt.data)
			if tt.wantError {
				if err == nil {
					t.Fatalf("ParseMeminfo = %d, %d; want an error", total, avail)
				}
				return
			}
			if err != nil || total != tt.total || avail != tt.available {
				t.Fatalf("ParseMeminfo = %d, %d, %v; want %d, %d", total, avail, err, tt.total, tt.available)
			}
		})
	}
}

func TestParseCgroupFiles(t *testing.T) {
	cpuTests := []struct {
		name    string
		data    string
		want    int64
		limited bool
		wantErr bool
	}{
		{"two cpus", "200000 100000\n", 2000, true, false},
		{"half a cpu", "50000 100000", 500, true, false},
		{"no limit", "max 100000\n", 0, false, false},
		{"quota only", "150000", 1500, true, false},
		{"zero period", "100 0", 0, false, true},
		{"bad quota", "x 100000", 0, false, true},
		{"empty", "", 0, false, true},
		{"three fields", "1 2 3", 0, false, true},
	}
	for _, tt := range cpuTests {
		t.Run("cpu.max/"+tt.name, func(t *testing.T) {
			got, limited, err := ParseCgroupCPUMax([]byte(tt.data))
			if (err != nil) != tt.wantErr || got != tt.want || limited != tt.limited {
				t.Fatalf("ParseCgroupCPUMax(%q) = %d, %v, %v", tt.data, got, limited, err)
			}
		})
	}
	memTests := []struct {
		name    string
		data    string
		want    int64
		limited bool
		wantErr bool
	}{
		{"limit", "536870912\n", 536870912, true, false},
		{"no limit", "max\n", 0, false, false},
		{"negative", "-1", 0, false, true},
		{"word", "lots", 0, false, true},
	}
	for _, tt := range memTests {
		t.Run("memory.max/"+tt.name, func(t *testing.T) {
			got, limited, err := ParseCgroupMemoryMax([]byte(tt.data))
			if (err != nil) != tt.wantErr || got != tt.want || limited != tt.limited {
				t.Fatalf("ParseCgroupMemoryMax(%q) = %d, %v, %v", tt.data, got, limited, err)
			}
		})
	}
}

func addFixtures(f *testing.F, names ...string) {
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join("testdata", "proc", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// The parsers never panic and what they return is consistent.
func FuzzParseProcStat(f *testing.F) {
	addFixtures(f, "stat", "stat-later")
	f.Fuzz(func(t *testing.T, data []byte) {
		times, cpus, err := ParseProcStat(data)
		if err == nil && (times.Idle > times.Total || cpus < 1) {
			t.Fatalf("ParseProcStat = %+v, %d", times, cpus)
		}
	})
}

func FuzzParseMeminfo(f *testing.F) {
	addFixtures(f, "meminfo", "meminfo-old-kernel")
	f.Fuzz(func(t *testing.T, data []byte) {
		total, avail, err := ParseMeminfo(data)
		if err == nil && (total < 0 || avail < 0 || avail > total) {
			t.Fatalf("ParseMeminfo = %d, %d", total, avail)
		}
	})
}

func FuzzParseCgroup(f *testing.F) {
	addFixtures(f, "cgroup-limited/cpu.max", "cgroup-limited/memory.max", "cgroup-unlimited/cpu.max", "cgroup-unlimited/memory.max")
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, limited, err := ParseCgroupCPUMax(data); err == nil && (m < 0 || !limited && m != 0) {
			t.Fatalf("ParseCgroupCPUMax = %d, %v", m, limited)
		}
		if b, limited, err := ParseCgroupMemoryMax(data); err == nil && (b < 0 || !limited && b != 0) {
			t.Fatalf("ParseCgroupMemoryMax = %d, %v", b, limited)
		}
	})
}
