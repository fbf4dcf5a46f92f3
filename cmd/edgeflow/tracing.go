package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/edgeflow/edgeflow/internal/telemetry"
)

// bindTracingFlags defines --otlp and --trace-sample on fs.
func bindTracingFlags(fs *flag.FlagSet) *telemetry.TracingFlags {
	f := &telemetry.TracingFlags{}
	fs.StringVar(&f.OTLP, "otlp", "", "export traces over OTLP to `ENDPOINT`: host:port for gRPC, an http(s):// URL for HTTP (wins over "+
		telemetry.EnvOTLPEndpoint+" and the node file)")
	fs.Func("trace-sample", "record this `RATIO` (0 to 1) of new traces; a trace started upstream keeps its decision (env "+
		telemetry.EnvTracesSampler+"/_ARG; default 1)", func(s string) error {
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || !(r >= 0 && r <= 1) {
			return errors.New("want a ratio between 0 and 1")
		}
		f.SampleRatio = &r
		return nil
	})
	return f
}

// resolveTracing works out the tracing settings from the node file's
// telemetry section, the environment and the flags; a bad setting is a usage
// error (exit 2).
func resolveTracing(cfg telemetry.Config, lookupEnv func(string) (string, bool), flags *telemetry.TracingFlags) (telemetry.TracingSettings, error) {
	var f telemetry.TracingFlags
	if flags != nil {
		f = *flags
	}
	s, err := telemetry.ResolveTracing(cfg.Tracing, lookupEnv, f)
	if err != nil {
		return s, &exitError{code: 2, err: err}
	}
	return s, nil
}

// startTracing builds the tracer provider of process p from s and installs it
// (with the W3C propagator) as the global one. With tracing off it is a no-op
// provider and no resource is detected.
func startTracing(ctx context.Context, s telemetry.TracingSettings, cfg telemetry.Config, p telemetry.Process, log *slog.Logger, opts ...telemetry.TracingOption) (*telemetry.Tracing, error) {
	var tr *telemetry.Tracing
	var err error
	if !s.Enabled() && len(opts) == 0 {
		tr, err = telemetry.NewTracing(ctx, s, nil)
	} else {
		res, rerr := telemetry.NewResource(ctx, cfg, p)
		if rerr != nil {
			return nil, rerr
		}
		tr, err = telemetry.NewTracing(ctx, s, res, opts...)
	}
	if err != nil {
		return nil, err
	}
	tr.Install()
	if s.Enabled() {
		log.Info("tracing", "export", s.String())
	}
	return tr, nil
}

// stopTracing flushes the spans still buffered, within telemetry.ShutdownTimeout.
func stopTracing(tr *telemetry.Tracing, log *slog.Logger) {
	if tr == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), telemetry.ShutdownTimeout)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		log.Warn("tracing: spans may be lost", "error", fmt.Sprint(err))
	}
}
