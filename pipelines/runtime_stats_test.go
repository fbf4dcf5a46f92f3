package pipelines

import (
	"testing"

	"github.com/edgeflow/edgeflow/stages"
)

func TestStatsString(t *testing.T) {
	steps := []StageStats{
		{Path: "sources[0] (file)", Kind: stages.KindSource, Out: 7, Errors: 1},
		{Path: "stages[0] (encode)", Kind: stages.KindProcessor, In: 7, Out: 2},
		{Path: "sinks[0] (kafka)", Kind: stages.KindSink, In: 2},
	}
	tests := []struct {
		name  string
		stats Stats
		want  string
	}{
		{name: "no dead letters", stats: Stats{Pipeline: "plant", Stages: steps, Acked: 7},
			want: "pipeline plant: acked 7, nacked 0, dropped 0, dead letters 0; sources[0] (file) out 7 errors 1; stages[0] (encode) in 7 out 2 errors 0; sinks[0] (kafka) in 2 errors 0"},
		{name: "dead letters by step", stats: Stats{Pipeline: "plant", Stages: steps, Acked: 7, Nacked: 1,
			DeadLetters: []DeadLetterStats{{Path: "sources[0] (file)", Count: 3}, {Path: "stages[0] (encode)", Count: 1}, {Path: "stages[1] (decode)"}}},
			want: "pipeline plant: acked 7, nacked 1, dropped 0, dead letters 4 (sources[0] (file) 3, stages[0] (encode) 1); sources[0] (file) out 7 errors 1; stages[0] (encode) in 7 out 2 errors 0; sinks[0] (kafka) in 2 errors 0"},
		{name: "flush dropped", stats: Stats{Pipeline: "p", FlushDropped: 2},
			want: "pipeline p: acked 0, nacked 0, dropped 0, flush dropped 2, dead letters 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.stats.String(); got != tt.want {
				t.Errorf("String()\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}
