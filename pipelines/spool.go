package pipelines

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/trace"
	"gopkg.in/yaml.v3"

	"github.com/edgeflow/edgeflow/internal/telemetry"

	"github.com/edgeflow/edgeflow/edge/spool"
	"github.com/edgeflow/edgeflow/stages"
)

// spoolKey is the key of a sink entry that configures its durable spool; the
// loader takes it out before decoding the sink's own settings.
const spoolKey = "spool"

// spooledByDefault are the sinks that get a spool with the default settings
// when their entry has no spool: key, on nodes with a data directory.
var spooledByDefault = map[string]bool{"kafka": true}

// spool decodes the spool: value of the sink entry at path (n nil when there
// is none): a mapping of spool.Config fields, true for the defaults, false
// for none. implicit reports the defaults of a sink spooled by default.
func (l *loader) spool(n *yaml.Node, id, path string) (cfg *spool.Config, implicit bool) {
	switch {
	case n == nil:
		if spooledByDefault[id] {
			return spool.DefaultConfig(), true
		}
		return nil, false
	case isNull(n):
		return spool.DefaultConfig(), false
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool":
		var on bool
		if err := n.Decode(&on); err != nil {
			l.yamlError(err, path, n.Line)
			return nil, false
		}
		if on {
			return spool.DefaultConfig(), false
		}
		return nil, false
	case n.Kind != yaml.MappingNode:
		l.errorf(n.Line, path, "field %q: want a mapping (max_bytes, max_messages, max_age, when_full) or false, got %s", spoolKey, describeNode(n))
		return nil, false
	}
	cfg = spool.DefaultConfig()
	before := len(l.errs)
	l.check(n, reflectTypeOf(cfg), path, spoolKey)
	if len(l.errs) > before {
		return nil, false
	}
	if err := n.Decode(cfg); err != nil {
		l.yamlError(err, path, n.Line)
		return nil, false
	}
	if err := cfg.Validate(); err != nil {
		var errs []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		} else {
			errs = []error{err}
		}
		for _, e := range errs {
			line := n.Line
			if f := findField(n, stages.FieldOf(e)); f != nil {
				line = f.Line
			}
			l.errs = append(l.errs, &Error{File: l.file, Line: line, Path: path, Err: fmt.Errorf("%s: %w", spoolKey, e)})
		}
		return nil, false
	}
	return cfg, false
}

// spoolFile is where the spool of a sink step lives:
// DATA_DIR/spool/NODE/PIPELINE/sinks-I-ID.db.
func spoolFile(env stages.Env, step Step) string {
	name := strings.NewReplacer("[", "-", "] (", "-", ")", "", "]", "", " ", "-", "/", "-").Replace(step.Path)
	node := env.Node.ID
	if node == "" {
		node = "node"
	}
	return filepath.Join(env.Node.DataDir, "spool", filepath.Base(node), filepath.Base(env.Pipeline), name+".db")
}

// errNoDataDir is returned by Build for a sink with a spool: block on a node
// without a data directory.
var errNoDataDir = errors.New("spool: the node has no data directory (data_dir in the node file, --data-dir or EDGEFLOW_DATA_DIR)")

// spooled puts the spool the step asks for in front of s (the sink as built,
// raw, wrapped in middleware). The closer, when not nil, must be closed before
// s: it lets the spool drain into s. A raw sink that can probe its link
// (spool.LinkProber) lets the spool notice at once that the link is back.
func spooled(step Step, s stages.Sink, raw stages.Sink, env stages.Env) (stages.Sink, stages.Closer, error) {
	if step.Spool == nil {
		return s, nil, nil
	}
	if env.Node.DataDir == "" {
		if step.spoolImplicit {
			return s, nil, nil
		}
		return nil, nil, errNoDataDir
	}
	opts := spool.Options{
		Logger: env.Log().With("step", step.Path),
		Node:   env.Node.ID,
		Name:   env.Pipeline + "/" + step.Path,
	}
	if p, ok := raw.(spool.LinkProber); ok {
		opts.LinkProbe = p.ProbeLink
	}
	sp, err := spool.NewSink(spoolFile(env, step), *step.Spool, traceRestoringSink{s}, opts)
	if err != nil {
		return nil, nil, err
	}
	env.Log().Info("sink spooled", "step", step.Path, "path", sp.Spool().Path())
	return traceSavingSink{sp}, sp, nil
}

// traceSavingSink hands the spool copies of the messages whose Go context
// carries a span, with that span's context in their metadata (traceparent), so
// that the trace survives the spool's disk.
type traceSavingSink struct{ *spool.Sink }

func (s traceSavingSink) Write(ctx context.Context, msgs []*message.Message) error {
	out, cloned := msgs, false
	for i, m := range msgs {
		mctx := m.Context()
		if !trace.SpanContextFromContext(mctx).IsValid() {
			continue
		}
		if !cloned {
			out, cloned = slices.Clone(msgs), true
		}
		c := m.Copy()
		telemetry.InjectMetadata(mctx, c.Metadata)
		out[i] = c
	}
	return s.Sink.Write(ctx, out)
}

// traceRestoringSink gives the messages the forwarder read back a context
// with the span their metadata names, for the tracing middleware inside it.
type traceRestoringSink struct{ next stages.Sink }

func (s traceRestoringSink) Write(ctx context.Context, msgs []*message.Message) error {
	for _, m := range msgs {
		if telemetry.HasTraceContext(m.Metadata) {
			m.SetContext(telemetry.ExtractMetadata(ctx, m.Metadata))
		}
	}
	return s.next.Write(ctx, msgs)
}

// byteSizePattern is the JSON Schema pattern of a spool.ByteSize string.
const byteSizePattern = `^\s*[0-9][0-9_]*\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$`

// spoolFields are the fields of a spool: block; sizes have the type "size".
func spoolFields() []stages.Field {
	fields := stages.FieldsOf(spool.DefaultConfig())
	for i, f := range fields {
		if _, ok := f.Default.(spool.ByteSize); ok {
			fields[i].Type = "size"
			fields[i].Default = f.Default.(spool.ByteSize).String()
		}
	}
	return fields
}

// spoolSchema is the JSON Schema of the spool: key every sink entry accepts.
func spoolSchema() (map[string]any, error) {
	props := map[string]any{}
	for _, f := range spoolFields() {
		s, err := fieldSchema(f)
		if err != nil {
			return nil, fmt.Errorf("pipelines: schema of spool, field %q: %w", f.Name, err)
		}
		if f.Type == "size" {
			s["type"] = []any{"integer", "string"}
			s["minimum"] = 1
			s["pattern"] = byteSizePattern
		}
		props[f.Name] = s
	}
	return map[string]any{
		"description": spoolSummary,
		"anyOf": []any{
			map[string]any{"type": "boolean"},
			map[string]any{"type": "null"},
			map[string]any{"type": "object", "properties": props, "additionalProperties": false},
		},
	}, nil
}

const spoolSummary = "A durable spool in front of this sink (docs/reliability.md#spool): a write returns once the messages are on the node's disk, and a forwarder hands them to the sink in order, retrying until it takes them. A mapping of the settings below, true for the defaults, false for none. kafka sinks have one with the defaults on nodes with a data directory unless the entry says spool: false."

// writeSpoolDoc documents the spool: key of every sink in the stage reference.
func writeSpoolDoc(b *bytes.Buffer) {
	b.WriteString("\n### spool (every sink)\n\n")
	b.WriteString(spoolSummary + "\n\n")
	b.WriteString("| Field | Type | Default | Required | Description |\n|---|---|---|---|---|\n")
	writeFields(b, spoolFields(), "spool.")
	b.WriteString("\nExample: a Kafka sink that keeps up to 512 MiB or a day of frames while the link is down\n\n")
	b.WriteString("```yaml\nsinks:\n  - type: kafka\n    topic: edgeflow.frames\n    spool: {max_bytes: 512MiB, max_age: 24h, when_full: block}\n```\n")
}
