package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRewriteSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	if err := os.WriteFile(path, []byte("# Benchmarks\n\n## Encoding\n\ntable\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"first\n", "second\n"} {
		if err := rewriteSection(path, text); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	got := string(b)
	if strings.Count(got, heading) != 1 || !strings.Contains(got, "second\n") || strings.Contains(got, "first\n") || !strings.HasPrefix(got, "# Benchmarks\n\n## Encoding\n\ntable\n\n") {
		t.Fatalf("after two rewrites:\n%s", got)
	}
}

// A tiny run of the whole benchmark: every table and the plot.
func TestRunSmall(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "benchmarks.md")
	c := config{sizes: []int{10, 20}, equalSizes: []int{10}, load: 1.1, perNode: 10, maxArrivals: 1000, sampleFrom: 20,
		targets: []float64{0.9}, articleSeeds: 2, seed: 1, doc: doc, plot: filepath.Join(dir, "images", "schedule.png"), command: "test"}
	if err := run(c); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(doc)
	for _, want := range []string{"| 20 | 1000 | balanced, 100 sampled |", "The article's 37 %", "images/schedule.png"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q:\n%s", want, b)
		}
	}
	if st, err := os.Stat(c.plot); err != nil || st.Size() == 0 {
		t.Errorf("plot: %v", err)
	}
}

// -only-equal: the equal-acceptance table alone, with the pooled reference,
// which never counts as the best algorithm.
func TestRunOnlyEqual(t *testing.T) {
	c := config{equalSizes: []int{10}, perNode: 10, maxArrivals: 1000, targets: []float64{0.9}, seed: 1, command: "test",
		algorithms: parseAlgorithms("balanced,norm-fit"), onlyEqual: true, pooledSizes: []int{10}}
	rep := report{config: c}
	var err error
	if rep.equal, err = equalTable(t.Context(), c, c.algorithms); err != nil {
		t.Fatal(err)
	}
	got := rep.equalMarkdown()
	for _, want := range []string{"| 90.0 % | 10 | greedy |", "| 90.0 % | 10 | norm-fit |", "| 90.0 % | 10 | " + pooledReference + " |", "the pooled nodes reach"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "best "+pooledReference) {
		t.Errorf("the pooled reference counted as an algorithm:\n%s", got)
	}
}
