package pipelines

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRunnerState(t *testing.T) {
	tests := []struct {
		name string
		src  *rtSrcConfig
		want RunnerState // after Run returned
	}{
		{"cancelled run stops", &rtSrcConfig{Name: "s", Messages: []string{"a"}, Hold: true}, StateStopped},
		{"source error fails", &rtSrcConfig{Name: "s", Messages: []string{"a"}, Fail: errors.New("device gone")}, StateFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &eventLog{}
			tt.src.Log = log
			p := testPipeline("state", []*rtSrcConfig{tt.src}, nil, []*rtSinkConfig{{Name: "k", Log: log}})
			r, err := p.Build(context.Background(), testEnv(t), fastOpts()...)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.State(); got != StateBuilt {
				t.Errorf("after Build: %s, want built", got)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			if tt.src.Hold {
				waitState(t, r, StateRunning)
				cancel()
			}
			<-done
			if got := r.State(); got != tt.want {
				t.Errorf("after Run: %s, want %s", got, tt.want)
			}
		})
	}
}

// waitState waits until r is in state want.
func waitState(t *testing.T, r *Runner, want RunnerState) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.State() != want {
		if time.Now().After(deadline) {
			t.Fatalf("state %s, want %s", r.State(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
