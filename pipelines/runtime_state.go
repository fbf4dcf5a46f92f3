package pipelines

import "fmt"

// RunnerState is where a Runner is in its life: built, running, draining, and
// finally stopped or failed. Readiness checks (/readyz) want every pipeline
// StateRunning.
type RunnerState int32

// States of a Runner, in the order they happen.
const (
	StateBuilt    RunnerState = iota // built, Run not called yet (or not started yet)
	StateRunning                     // every source reads; messages flow
	StateDraining                    // the run context ended or the sources ran out; finishing in-flight work
	StateStopped                     // Run returned nil
	StateFailed                      // Run returned an error (or failed to start)
)

var runnerStateNames = [...]string{"built", "running", "draining", "stopped", "failed"}

func (s RunnerState) String() string {
	if s >= 0 && int(s) < len(runnerStateNames) {
		return runnerStateNames[s]
	}
	return fmt.Sprintf("RunnerState(%d)", int32(s))
}

// State returns where the Runner is; safe to call at any time.
func (r *Runner) State() RunnerState { return RunnerState(r.state.Load()) }
