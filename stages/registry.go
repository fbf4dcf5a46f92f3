package stages

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"sync"
)

// Kind says where in a pipeline a stage may stand.
type Kind string

const (
	KindSource    Kind = "source"
	KindProcessor Kind = "processor"
	KindSink      Kind = "sink"
)

// Registration is one compiled-in stage. Build it with Register{Source,Processor,Sink}.
type Registration struct {
	ID   string
	Kind Kind
	// Summary is one line; Description may be several paragraphs (Markdown).
	Summary     string
	Description string
	// Consumes and Produces list payload kinds (KindReadings, KindFrame); empty
	// Consumes means any. Sources leave Consumes empty, sinks Produces.
	Consumes []string
	Produces []string
	// Examples are YAML snippets of the stage entry, checked by the conformance suite.
	Examples []Example

	newConfig func() Config
	build     func(ctx context.Context, cfg Config, env Env) (any, error)
}

// Example is a titled YAML snippet showing the stage in a pipeline.
type Example struct {
	Title string
	YAML  string
}

// NewConfig returns a fresh config filled with defaults.
func (r *Registration) NewConfig() Config { return r.newConfig() }

// Build constructs the stage from a decoded, validated config. The result
// implements Source, Processor or Sink according to r.Kind.
func (r *Registration) Build(ctx context.Context, cfg Config, env Env) (any, error) {
	return r.build(ctx, cfg, env)
}

// Spec describes the config fields, derived from the config struct and its defaults.
func (r *Registration) Spec() Spec {
	return Spec{ID: r.ID, Kind: r.Kind, Summary: r.Summary, Description: r.Description,
		Consumes: r.Consumes, Produces: r.Produces, Examples: r.Examples,
		Fields: FieldsOf(r.newConfig())}
}

// Info is what every stage registers besides its constructors.
type Info struct {
	ID          string
	Summary     string
	Description string
	Consumes    []string
	Produces    []string
	Examples    []Example
}

var (
	mu       sync.RWMutex
	registry = map[string]map[Kind]*Registration{}
)

// RegisterSource registers a source. defaults returns a pointer to a config
// struct with defaults set; build must have no side effects beyond opening what
// the stage needs (and close it on error). Duplicate IDs of the same kind panic.
func RegisterSource[C Config](info Info, defaults func() C, build func(ctx context.Context, cfg C, env Env) (Source, error)) {
	register(KindSource, info, defaults, func(ctx context.Context, c C, env Env) (any, error) { return build(ctx, c, env) })
}

// RegisterProcessor registers a processor; see RegisterSource.
func RegisterProcessor[C Config](info Info, defaults func() C, build func(ctx context.Context, cfg C, env Env) (Processor, error)) {
	register(KindProcessor, info, defaults, func(ctx context.Context, c C, env Env) (any, error) { return build(ctx, c, env) })
}

// RegisterSink registers a sink; see RegisterSource.
func RegisterSink[C Config](info Info, defaults func() C, build func(ctx context.Context, cfg C, env Env) (Sink, error)) {
	register(KindSink, info, defaults, func(ctx context.Context, c C, env Env) (any, error) { return build(ctx, c, env) })
}

func register[C Config](kind Kind, info Info, defaults func() C, build func(context.Context, C, Env) (any, error)) {
	if info.ID == "" {
		panic("stages: register with empty ID")
	}
	if k := reflect.TypeOf(defaults()).Kind(); k != reflect.Pointer {
		panic(fmt.Sprintf("stages: %s %q: defaults must return a pointer to a struct, got %s", kind, info.ID, k))
	}
	r := &Registration{
		ID: info.ID, Kind: kind, Summary: info.Summary, Description: info.Description,
		Consumes: info.Consumes, Produces: info.Produces, Examples: info.Examples,
		newConfig: func() Config { return defaults() },
		build: func(ctx context.Context, cfg Config, env Env) (any, error) {
			c, ok := cfg.(C)
			if !ok {
				return nil, fmt.Errorf("stages: %s %q: config has type %T, want %T", kind, info.ID, cfg, *new(C))
			}
			v, err := build(ctx, c, env)
			if err != nil {
				return nil, err
			}
			if v == nil || (reflect.ValueOf(v).Kind() == reflect.Pointer && reflect.ValueOf(v).IsNil()) {
				return nil, fmt.Errorf("stages: %s %q: build returned nil", kind, info.ID)
			}
			return v, nil
		},
	}
	mu.Lock()
	defer mu.Unlock()
	if registry[info.ID] == nil {
		registry[info.ID] = map[Kind]*Registration{}
	}
	if _, dup := registry[info.ID][kind]; dup {
		panic(fmt.Sprintf("stages: %s %q registered twice", kind, info.ID))
	}
	registry[info.ID][kind] = r
}

// Lookup finds a registered stage by kind and ID.
func Lookup(kind Kind, id string) (*Registration, bool) {
	mu.RLock()
	defer mu.RUnlock()
	r, ok := registry[id][kind]
	return r, ok
}

// IDs lists the IDs registered for kind, sorted.
func IDs(kind Kind) []string {
	mu.RLock()
	defer mu.RUnlock()
	var ids []string
	for id, m := range registry {
		if _, ok := m[kind]; ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// List returns every registration, sorted by kind (source, processor, sink) then ID.
func List() []*Registration {
	var out []*Registration
	for _, k := range []Kind{KindSource, KindProcessor, KindSink} {
		for _, id := range IDs(k) {
			r, _ := Lookup(k, id)
			out = append(out, r)
		}
	}
	return out
}
