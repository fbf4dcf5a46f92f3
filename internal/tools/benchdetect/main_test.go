package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRewriteSection(t *testing.T) {
	const section = "## Detect: new\n\nnew text\n\n"
	tests := []struct {
		name, doc, want string
	}{
		{
			name: "replaces the section up to the next heading",
			doc:  "# B\n\n## TensorFlow Lite interpreter\n\ni\n\n## Detect: old\n\nold\n\n## Scheduling\n\ns\n",
			want: "# B\n\n## TensorFlow Lite interpreter\n\ni\n\n" + section + "## Scheduling\n\ns\n",
		},
		{
			name: "replaces the last section",
			doc:  "# B\n\n## Detect: old\n\nold\n",
			want: "# B\n\n" + section,
		},
		{
			name: "inserts after the interpreter section",
			doc:  "# B\n\n## TensorFlow Lite interpreter\n\ni\n\n## Scheduling\n\ns\n",
			want: "# B\n\n## TensorFlow Lite interpreter\n\ni\n\n" + section + "## Scheduling\n\ns\n",
		},
		{
			name: "appends when there is neither",
			doc:  "# B\n\ntext\n",
			want: "# B\n\ntext\n\n" + section,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "benchmarks.md")
			if err := os.WriteFile(path, []byte(tt.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := rewriteSection(path, section); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"one", []float64{3}, 3},
		{"odd, unsorted", []float64{5, 1, 3}, 3},
		{"even", []float64{4, 1, 2, 3}, 2.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := median(tt.in); got != tt.want {
				t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
