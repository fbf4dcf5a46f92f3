package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeflow/edgeflow/internal/fl/simulate"
)

func rounds(acc ...float64) []simulate.RoundRecord {
	var out []simulate.RoundRecord
	for i, a := range acc {
		out = append(out, simulate.RoundRecord{Round: i + 1, TestAccuracy: a, Seconds: 1, UplinkBytes: 8000, DownlinkBytes: 8000})
	}
	return out
}

func TestReportRewritesOnlyItsSection(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "benchmarks.md")
	if err := os.WriteFile(doc, []byte("# Benchmarks\n\n## Other\n\ntext\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config{target: 0.97, doc: doc, plot: filepath.Join(dir, "images", "fedavg.png"), command: "make bench-fedavg"}
	all := map[string]Outcome{
		"iid":      {Setting: "iid", LearningRate: 0.2, RoundsTo: 3, Rounds: rounds(0.9, 0.95, 0.971), Grid: []Trial{{LearningRate: 0.1, Rounds: 15, Accuracy: 0.94}}},
		"iid-int8": {Setting: "iid-int8", LearningRate: 0.2, RoundsTo: 3, Rounds: rounds(0.9, 0.95, 0.97)},
		"noniid":   {Setting: "noniid", LearningRate: 0.2, Partial: "stopped", Rounds: rounds(0.5, 0.7)},
	}
	all["iid-int8"].Rounds[0].UplinkBytes = 1000
	for range 2 { // idempotent
		if err := publish(all, cfg); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{"## Other\n\ntext", heading, "| IID, float32 updates | 0.2 | **3** | 87 |", "not reached (stopped)", "0.1 → 94.00 %", "](images/fedavg.png)"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, heading) != 1 || strings.Count(text, beginMarker) != 1 {
		t.Errorf("section repeated:\n%s", text)
	}
	if _, err := os.Stat(cfg.plot); err != nil {
		t.Error(err)
	}
}
