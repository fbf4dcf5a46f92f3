package main

import (
	"bytes"
	"context"
	"github.com/edgeflow/edgeflow/internal/testenv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeflow/edgeflow/stages/encode/frame"
	"github.com/edgeflow/edgeflow/stages/reading"
)

// runCLI runs edgeflow with args and stdin, returning exit code, stdout, stderr.
func runCLI(t *testing.T, stdin []byte, args ...string) (int, []byte, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runMain(context.Background(), args, stdio{in: bytes.NewReader(stdin), out: &out, err: &errOut})
	return code, out.Bytes(), errOut.String()
}

func encodeDecode(t *testing.T, encodeArgs, decodeArgs []string) (frames, decoded []byte) {
	t.Helper()
	code, frames, stderr := runCLI(t, nil, append([]string{"encode"}, encodeArgs...)...)
	if code != 0 {
		t.Fatalf("encode %v: exit %d: %s", encodeArgs, code, stderr)
	}
	code, decoded, stderr = runCLI(t, frames, append([]string{"decode"}, decodeArgs...)...)
	if code != 0 {
		t.Fatalf("decode %v: exit %d: %s", decodeArgs, code, stderr)
	}
	return frames, decoded
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncodeDecodeGolden(t *testing.T) {
	tests := []struct {
		name       string
		encodeArgs []string
		decodeArgs []string
		want       string // file holding the expected decode output
	}{
		{"canonical CSV comes back identical", []string{"testdata/encode/special.csv"}, nil, "testdata/encode/special.csv"},
		{"one frame per reading", []string{"--block", "1", "testdata/encode/special.csv"}, nil, "testdata/encode/special.csv"},
		{"lz4", []string{"--codec", "lz4", "--block", "5", "testdata/encode/special.csv"}, nil, "testdata/encode/special.csv"},
		{"zlib level 9", []string{"--codec", "zlib", "--level", "9", "testdata/encode/special.csv"}, nil, "testdata/encode/special.csv"},
		{"none", []string{"--codec", "none", "testdata/encode/special.csv"}, nil, "testdata/encode/special.csv"},
		{"NAB timestamps become RFC 3339", []string{"testdata/encode/nab-form.csv"}, nil, "testdata/encode/nab-form.want.csv"},
		{"JSON lines of several streams", []string{"testdata/encode/multi.jsonl"}, []string{"--format", "jsonl"}, "testdata/encode/multi.want.jsonl"},
		{"pick one stream as CSV", []string{"testdata/encode/multi.jsonl"}, []string{"--node", "mote-1", "--stream", "temperature"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := encodeDecode(t, tt.encodeArgs, tt.decodeArgs)
			want := []byte("timestamp,value\n2026-01-02T15:04:05Z,30.21\n2026-01-02T15:04:10Z,NaN\n")
			if tt.want != "" {
				want = readFile(t, tt.want)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("decode output:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestEncodeFramesHoldStreamName(t *testing.T) {
	frames, _ := encodeDecode(t, []string{"--node", "n7", "testdata/encode/special.csv"}, nil)
	h, err := frame.ReadHeader(frames)
	if err != nil {
		t.Fatal(err)
	}
	if h.Node != "n7" || h.Stream != "special" || h.Seq != 1 || h.Count != 12 {
		t.Errorf("header = %+v, want node n7, stream special (from the file name), seq 1, 12 readings", h)
	}
}

func TestEncodeOutputFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "special.frames")
	if code, _, stderr := runCLI(t, nil, "encode", "-o", out, "--stats", "testdata/encode/special.csv"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	} else if !strings.Contains(stderr, "bits/value") || !strings.Contains(stderr, "ratio") {
		t.Errorf("--stats printed %q", stderr)
	}
	csvOut := filepath.Join(dir, "special.csv")
	if code, _, stderr := runCLI(t, nil, "decode", out, "-o", csvOut); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got, want := readFile(t, csvOut), readFile(t, "testdata/encode/special.csv"); !bytes.Equal(got, want) {
		t.Errorf("decoded file:\n%s\nwant:\n%s", got, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("%d files in the output directory, want 2 (no temporary files left)", len(entries))
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStderr []string
	}{
		{"bad line names FILE:LINE", []string{"testdata/encode/bad.csv"}, "", 1,
			[]string{"testdata/encode/bad.csv:3:", `"two"`}},
		{"skip-bad reports every bad line", []string{"--skip-bad", "testdata/encode/bad.csv"}, "", 0,
			[]string{"testdata/encode/bad.csv:3:", "testdata/encode/bad.csv:5:", "2 bad lines skipped"}},
		{"stdin is named -", []string{"--format", "jsonl"}, "{\"stream\":\"a\"}\n", 1, []string{"-:1:"}},
		{"unknown codec", []string{"--codec", "zip", "testdata/encode/special.csv"}, "", 1,
			[]string{`--codec: codec "zip" unknown (want zlib|lz4|zstd|none|f32-diff-zlib)`}},
		{"bad block", []string{"--block", "0", "testdata/encode/special.csv"}, "", 1, []string{"--block:"}},
		{"unknown format", []string{"--format", "xml", "testdata/encode/special.csv"}, "", 1, []string{`--format "xml"`}},
		{"missing file", []string{"testdata/encode/nope.csv"}, "", 1, []string{"nope.csv"}},
		{"two files", []string{"a.csv", "b.csv"}, "", 2, []string{"Usage: edgeflow encode"}},
		{"unknown flag", []string{"--nope"}, "", 2, []string{"-nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, []byte(tt.stdin), append([]string{"encode"}, tt.args...)...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.wantCode, stderr)
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not contain %q", stderr, w)
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	code, frames, _ := runCLI(t, nil, "encode", "testdata/encode/special.csv")
	if code != 0 {
		t.Fatal("encode failed")
	}
	multi, _ := encodeDecode(t, []string{"testdata/encode/multi.jsonl"}, []string{"--format", "jsonl"})
	tests := []struct {
		name       string
		args       []string
		stdin      []byte
		wantCode   int
		wantStderr string
	}{
		{"truncated", nil, frames[:len(frames)-3], 1, "-: frame 1 at byte 0:"},
		{"several streams as CSV", nil, multi, 1, "use --format jsonl or --stream"},
		{"bad format", []string{"--format", "xml"}, frames, 1, `--format "xml"`},
		{"help", []string{"--help"}, nil, 0, "Examples:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.stdin, append([]string{"decode"}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.wantCode, tt.wantStderr)
			}
		})
	}
}

// TestEncodeRealDataBitExact round-trips the NAB files and checks every value bit-exact.
func TestEncodeRealDataBitExact(t *testing.T) {
	for _, name := range []string{"ambient_temperature_system_failure", "cpu_utilization_asg_misconfiguration", "machine_temperature_system_failure"} {
		t.Run(name, func(t *testing.T) {
			path := testenv.SharedFile(t, "data/nab/"+name+".csv")
			_, got := encodeDecode(t, []string{path}, nil)
			in := strings.Split(strings.TrimSpace(string(readFile(t, path))), "\n")[1:]
			out := strings.Split(strings.TrimSpace(string(got)), "\n")[1:]
			if len(in) != len(out) {
				t.Fatalf("%d readings back, want %d", len(out), len(in))
			}
			for i := range in {
				ti, vi, _ := strings.Cut(in[i], ",")
				to, vo, _ := strings.Cut(out[i], ",")
				want, err1 := reading.ParseValue(vi)
				got, err2 := reading.ParseValue(vo)
				if err1 != nil || err2 != nil || !sameBits(want, got) || strings.Replace(ti, " ", "T", 1)+"Z" != to {
					t.Fatalf("line %d: %q came back as %q", i+2, in[i], out[i])
				}
			}
		})
	}
}

func sameBits(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }

func TestEncodeBoundedError(t *testing.T) {
	path := "testdata/encode/nab-form.csv"
	for _, args := range [][]string{
		{"--max-error", "0.01", path},
		{"--max-error", "0.001", "--relative", "--codec", "lz4", path},
		{"--codec", "f32-diff-zlib", path},
	} {
		_, got := encodeDecode(t, args, nil)
		in := strings.Split(strings.TrimSpace(string(readFile(t, path))), "\n")[1:]
		out := strings.Split(strings.TrimSpace(string(got)), "\n")[1:]
		if len(in) != len(out) {
			t.Fatalf("%v: %d readings back, want %d", args, len(out), len(in))
		}
		for i := range in {
			_, vi, _ := strings.Cut(in[i], ",")
			_, vo, _ := strings.Cut(out[i], ",")
			want, _ := reading.ParseValue(vi)
			got, err := reading.ParseValue(vo)
			if err != nil || math.Abs(got-want) > 0.01*max(1, math.Abs(want)) {
				t.Errorf("%v: %s came back as %s", args, vi, vo)
			}
		}
	}
}
