package edge

import (
	"context"
	"errors"
	"fmt"

	"github.com/edgeflow/edgeflow/pipelines"
)

// Ready is a readiness check (telemetry.Check): nil while every pipeline the
// runtime runs is running, otherwise an error naming each pipeline that is not
// and its state (built, draining, stopped, failed). Before Run has built the
// pipelines, and when none runs on the node, the runtime is not ready.
func (rt *Runtime) Ready(ctx context.Context) error {
	rt.mu.Lock()
	runners := append([]*pipelines.Runner(nil), rt.runners...)
	started := rt.done != nil
	rt.mu.Unlock()
	if !started {
		return errors.New("pipelines not started")
	}
	if len(runners) == 0 {
		return errors.New("no pipeline runs on this node")
	}
	var errs []error
	for _, r := range runners {
		if s := r.State(); s != pipelines.StateRunning {
			errs = append(errs, fmt.Errorf("pipeline %q is %s", r.Name(), s))
		}
	}
	return errors.Join(errs...)
}
