package stagetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/goleak"
	"gopkg.in/yaml.v3"

	"github.com/edgeflow/edgeflow/pipelines"
	"github.com/edgeflow/edgeflow/stages"
)

// Features says what a stage supports and needs, so Run knows which checks apply.
type Features struct {
	// ValidConfig is a stage entry in YAML that loads and validates and that the
	// runtime checks build the stage from, e.g. "topic: t\nbrokers: [127.0.0.1:9092]".
	// Any form pipelines.NormalizeEntry accepts will do. Empty: the defaults,
	// which must then validate.
	ValidConfig string
	// RequiredFields lists the top-level config fields the user must set: the
	// default config may fail validation only with a FieldError naming one of them,
	// and ValidConfig without any one of them must fail to load.
	RequiredFields []string
	// NeedsKafka and NeedsMQTT: building needs that service; the runtime checks
	// run only when it answers (see Unavailable).
	NeedsKafka bool
	NeedsMQTT  bool
	// Buffers: the processor buffers and implements stages.Flusher.
	Buffers bool
	// PassThrough: the processor does not parse payloads, so malformed input need
	// not be an error (it still must not panic).
	PassThrough bool
	// MalformedPayloads are extra payloads a processor must reject, besides the
	// built-in garbage for each payload kind it consumes.
	MalformedPayloads [][]byte
	// IgnoreGoroutines lists functions (as goleak.IgnoreTopFunction takes them)
	// of goroutines a library keeps on purpose after Close.
	IgnoreGoroutines []string
	// SkipRuntime, when set, is the reason why the stage cannot be built in a
	// test at all; the build checks are then skipped with that message.
	SkipRuntime string
}

// promptly is how long a cancelled Read or Write may take to return.
const promptly = 2 * time.Second

// Run runs the conformance suite for the stage registered as kind/id. See the
// package documentation for the checks.
func Run(t *testing.T, kind stages.Kind, id string, f Features) {
	t.Helper()
	reg, ok := stages.Lookup(kind, id)
	if !ok {
		t.Fatalf("%s %q is not registered (registered %ss: %s); does the package register it from init?",
			kind, id, kind, strings.Join(stages.IDs(kind), ", "))
	}
	t.Run("info", func(t *testing.T) { checkInfo(t, reg) })
	t.Run("spec", func(t *testing.T) { checkSpec(t, reg) })
	t.Run("examples", func(t *testing.T) { checkExamples(t, reg) })
	t.Run("unknown-key", func(t *testing.T) { checkUnknownKey(t, reg, f) })
	t.Run("defaults", func(t *testing.T) { checkDefaults(t, reg, f) })
	t.Run("required-fields", func(t *testing.T) { checkRequired(t, reg, f) })
	t.Run("runtime", func(t *testing.T) { checkRuntime(t, reg, f) })
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

func checkInfo(t *testing.T, reg *stages.Registration) {
	if !idPattern.MatchString(reg.ID) {
		t.Errorf("ID %q: want lower-case letters, digits and '-', starting with a letter", reg.ID)
	}
	if strings.TrimSpace(reg.Summary) == "" {
		t.Errorf("Info.Summary is empty: give a one-line summary")
	}
	if strings.Contains(reg.Summary, "\n") {
		t.Errorf("Info.Summary %q spans several lines: keep it to one", reg.Summary)
	}
	if strings.TrimSpace(reg.Description) == "" {
		t.Errorf("Info.Description is empty: say what the stage does and how data flows through it")
	}
	if len(reg.Examples) == 0 {
		t.Errorf("Info.Examples is empty: give at least one example entry")
	}
	for _, k := range append(slices.Clone(reg.Consumes), reg.Produces...) {
		if !slices.Contains(payloadKinds, k) {
			t.Errorf("payload kind %q unknown (want one of %s)", k, strings.Join(payloadKinds, ", "))
		}
	}
	switch reg.Kind {
	case stages.KindSource:
		if len(reg.Produces) == 0 {
			// Allowed for sources relaying whatever their input holds (a Kafka topic).
			t.Logf("Info.Produces is empty: payload kinds are not checked after this source")
		}
		if len(reg.Consumes) > 0 {
			t.Errorf("a source consumes nothing: leave Info.Consumes empty")
		}
	case stages.KindSink:
		if len(reg.Produces) > 0 {
			t.Errorf("a sink produces nothing: leave Info.Produces empty")
		}
	}
}

func checkSpec(t *testing.T, reg *stages.Registration) {
	cfg := reg.NewConfig()
	if cfg == nil {
		t.Fatalf("defaults function returned nil")
	}
	if other := reg.NewConfig(); reflect.ValueOf(other).Pointer() == reflect.ValueOf(cfg).Pointer() {
		t.Errorf("defaults function returns the same config twice: return a fresh pointer each call")
	}
	spec := reg.Spec()
	compareFields(t, reflect.TypeOf(cfg), spec.Fields, "")
}

// compareFields checks spec fields against a struct type's yaml keys.
func compareFields(t *testing.T, typ reflect.Type, fields []stages.Field, prefix string) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	keys := pipelines.ConfigKeys(typ)
	var names []string
	seen := map[string]bool{}
	for _, f := range fields {
		name := prefix + f.Name
		names = append(names, f.Name)
		if seen[f.Name] {
			t.Errorf("field %q appears twice in the spec (two struct fields with the same yaml key?)", name)
		}
		seen[f.Name] = true
		if strings.TrimSpace(f.Description) == "" {
			t.Errorf("field %q has no description: add a doc:\"...\" tag", name)
		}
		if f.Required && f.Default != nil {
			t.Errorf("field %q is required:\"true\" but has the default %v", name, f.Default)
		}
		if len(f.Enum) > 0 {
			if s, ok := f.Default.(string); ok && !slices.Contains(f.Enum, s) {
				t.Errorf("field %q: default %q is not one of its enum values %s", name, s, strings.Join(f.Enum, "|"))
			}
			if f.Example != "" && !slices.Contains(f.Enum, f.Example) {
				t.Errorf("field %q: example %q is not one of its enum values %s", name, f.Example, strings.Join(f.Enum, "|"))
			}
		}
		if f.Type == "object" {
			if ft, ok := keys[f.Name]; ok {
				compareFields(t, ft, f.Fields, name+".")
			}
		}
		if f.Type == "array" && f.Items != nil && f.Items.Type == "object" {
			if ft, ok := keys[f.Name]; ok {
				for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice || ft.Kind() == reflect.Array {
					ft = ft.Elem()
				}
				compareFields(t, ft, f.Items.Fields, name+"[].")
			}
		}
	}
	var keyNames []string
	for k := range keys {
		keyNames = append(keyNames, k)
	}
	sort.Strings(keyNames)
	for _, k := range keyNames {
		if !seen[k] {
			t.Errorf("yaml key %q of the config struct is missing from the spec", prefix+k)
		}
	}
	for _, n := range names {
		if _, ok := keys[n]; !ok {
			t.Errorf("spec field %q is not a yaml key of the config struct", prefix+n)
		}
	}
}

// pipelineFor wraps a normalized stage entry in a minimal pipeline with the
// helper stages around it.
func pipelineFor(reg *stages.Registration, entry string) string {
	source := ReadingsSourceID
	if len(reg.Consumes) > 0 && !slices.Contains(reg.Consumes, stages.KindReadings) && slices.Contains(reg.Consumes, stages.KindFrame) {
		source = FramesSourceID
	}
	item := pipelines.ListItem(entry)
	switch reg.Kind {
	case stages.KindSource:
		return "name: stagetest\nsources:\n" + item + "sinks:\n  - type: " + SinkID + "\n"
	case stages.KindProcessor:
		return "name: stagetest\nsources:\n  - type: " + source + "\nstages:\n" + item + "sinks:\n  - type: " + SinkID + "\n"
	default:
		return "name: stagetest\nsources:\n  - type: " + source + "\nsinks:\n" + item
	}
}

// load loads snippet as the stage's entry in a minimal pipeline and returns the
// stage's step.
func load(reg *stages.Registration, what, snippet string) (*pipelines.Step, string, error) {
	entry, err := pipelines.NormalizeEntry(reg.ID, snippet)
	if err != nil {
		return nil, "", err
	}
	text := pipelineFor(reg, entry)
	p, err := pipelines.Load(what, []byte(text))
	if err != nil {
		return nil, text, err
	}
	var steps []pipelines.Step
	switch reg.Kind {
	case stages.KindSource:
		steps = p.Sources
	case stages.KindProcessor:
		steps = p.Stages
	default:
		steps = p.Sinks
	}
	for i := range steps {
		if steps[i].Reg == reg {
			return &steps[i], text, nil
		}
	}
	return nil, text, fmt.Errorf("loaded pipeline has no %s %q step", reg.Kind, reg.ID)
}

func checkExamples(t *testing.T, reg *stages.Registration) {
	for i, ex := range reg.Examples {
		name := fmt.Sprintf("example %d (%s)", i, ex.Title)
		if strings.TrimSpace(ex.Title) == "" {
			t.Errorf("%s has no title", name)
		}
		if _, text, err := load(reg, name, ex.YAML); err != nil {
			t.Errorf("%s does not load:\n%v\npipeline:\n%s", name, err, text)
		}
	}
}

// short cuts a payload for messages.
func short(b []byte) []byte {
	if len(b) > 48 {
		return append(b[:45:45], "..."...)
	}
	return b
}

func checkUnknownKey(t *testing.T, reg *stages.Registration, f Features) {
	entry, err := pipelines.NormalizeEntry(reg.ID, f.ValidConfig)
	if err != nil {
		t.Fatalf("Features.ValidConfig: %v", err)
	}
	const key = "zz_no_such_setting"
	_, text, err := load(reg, "unknown-key", entry+key+": 1\n")
	if err == nil {
		t.Fatalf("an entry with the unknown key %q loaded; config decoding must be strict\npipeline:\n%s", key, text)
	}
	if !strings.Contains(err.Error(), key) {
		t.Errorf("error for an unknown key does not name it %q: %v", key, err)
	}
}

func checkDefaults(t *testing.T, reg *stages.Registration, f Features) {
	err := reg.NewConfig().Validate()
	if err == nil {
		if len(f.RequiredFields) > 0 {
			t.Errorf("the default config validates, yet Features.RequiredFields lists %s: a required field must make the defaults fail",
				strings.Join(f.RequiredFields, ", "))
		}
		return
	}
	field := stages.FieldOf(err)
	if field == "" {
		t.Fatalf("the default config fails validation with an error that names no field (return stages.FieldErrorf): %v", err)
	}
	top := topField(field)
	if !slices.Contains(f.RequiredFields, top) {
		t.Errorf("the default config fails on field %q (%v), which Features.RequiredFields does not list; give it a working default or list it", field, err)
	}
	if !specHas(reg, top) {
		t.Errorf("validation names field %q, which is not in the spec", field)
	}
}

func topField(field string) string {
	if i := strings.IndexAny(field, ".["); i >= 0 {
		return field[:i]
	}
	return field
}

func specHas(reg *stages.Registration, name string) bool {
	for _, f := range reg.Spec().Fields {
		if f.Name == name {
			return true
		}
	}
	return false
}

func checkRequired(t *testing.T, reg *stages.Registration, f Features) {
	if len(f.RequiredFields) == 0 {
		t.Log("no required fields (Features.RequiredFields is empty): nothing to check")
		return
	}
	if f.ValidConfig == "" {
		t.Fatalf("Features.RequiredFields is set but Features.ValidConfig is empty: give a config that sets them")
	}
	entry, err := pipelines.NormalizeEntry(reg.ID, f.ValidConfig)
	if err != nil {
		t.Fatalf("Features.ValidConfig: %v", err)
	}
	var m yaml.Node
	if err := yaml.Unmarshal([]byte(entry), &m); err != nil {
		t.Fatalf("Features.ValidConfig: %v", err)
	}
	body := m.Content[0]
	for _, field := range f.RequiredFields {
		if !specHas(reg, field) {
			t.Errorf("Features.RequiredFields names %q, which is not a field of the spec", field)
			continue
		}
		without := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		found := false
		for i := 0; i+1 < len(body.Content); i += 2 {
			if body.Content[i].Value == field {
				found = true
				continue
			}
			without.Content = append(without.Content, body.Content[i], body.Content[i+1])
		}
		if !found {
			t.Errorf("Features.ValidConfig does not set required field %q", field)
			continue
		}
		b, err := yaml.Marshal(without)
		if err != nil {
			t.Fatal(err)
		}
		if _, text, err := load(reg, "without-"+field, string(b)); err == nil {
			t.Errorf("the entry without required field %q loads; Validate must reject it\npipeline:\n%s", field, text)
		}
	}
}

func testEnv(t *testing.T) stages.Env {
	return stages.Env{
		Node:     stages.Node{ID: "stagetest-node", Labels: map[string]string{"site": "test"}, Brokers: KafkaBrokers(), DataDir: t.TempDir()},
		Pipeline: "stagetest",
		Logger:   slog.New(slog.DiscardHandler),
	}
}

func checkRuntime(t *testing.T, reg *stages.Registration, f Features) {
	if f.SkipRuntime != "" {
		t.Skipf("skipped: %s (Features.SkipRuntime)", f.SkipRuntime)
	}
	if f.NeedsKafka {
		RequireKafka(t)
	}
	if f.NeedsMQTT {
		RequireMQTT(t)
	}
	if f.ValidConfig == "" {
		if err := reg.NewConfig().Validate(); err != nil {
			t.Fatalf("the default config does not validate (%v): set Features.ValidConfig to a config the stage can be built from", err)
		}
	}
	step, text, err := load(reg, "valid-config", f.ValidConfig)
	if err != nil {
		t.Fatalf("Features.ValidConfig does not load:\n%v\npipeline:\n%s", err, text)
	}
	ignore := []goleak.Option{goleak.IgnoreCurrent()}
	for _, fn := range f.IgnoreGoroutines {
		ignore = append(ignore, goleak.IgnoreTopFunction(fn))
	}
	env := testEnv(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := build(ctx, reg, step.Config, env)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	closed := false
	defer func() {
		if !closed {
			closeStage(t, v)
		}
	}()

	switch reg.Kind {
	case stages.KindSource:
		src, ok := v.(stages.Source)
		if !ok {
			t.Fatalf("build returned %T, which does not implement stages.Source", v)
		}
		checkSourceCancelled(t, src)
	case stages.KindProcessor:
		p, ok := v.(stages.Processor)
		if !ok {
			t.Fatalf("build returned %T, which does not implement stages.Processor", v)
		}
		fl, isFlusher := v.(stages.Flusher)
		switch {
		case f.Buffers && !isFlusher:
			t.Errorf("Features.Buffers is set but %T does not implement stages.Flusher", v)
		case !f.Buffers && isFlusher:
			t.Errorf("%T implements stages.Flusher: set Features.Buffers", v)
		}
		if isFlusher {
			callSafely(t, "Flush with nothing buffered", func() {
				msgs, err := fl.Flush(ctx, stages.FlushAll)
				if err != nil || len(msgs) > 0 {
					t.Errorf("Flush with nothing buffered returned %d messages, error %v; want none and nil", len(msgs), err)
				}
			})
		}
		checkMalformed(t, reg, p, f)
		if isFlusher {
			callSafely(t, "Flush after malformed input", func() { _, _ = fl.Flush(ctx, stages.FlushAll) })
		}
	case stages.KindSink:
		s, ok := v.(stages.Sink)
		if !ok {
			t.Fatalf("build returned %T, which does not implement stages.Sink", v)
		}
		checkSinkCancelled(t, s)
	}
	closed = true
	closeStage(t, v)
	if err := goleak.Find(ignore...); err != nil {
		t.Errorf("goroutines still running after Close (stop them in Close, or list a library's in Features.IgnoreGoroutines): %v", err)
	}
}

// build calls reg.Build, turning a panic into an error.
func build(ctx context.Context, reg *stages.Registration, cfg stages.Config, env stages.Env) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return reg.Build(ctx, cfg, env)
}

func callSafely(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked: %v", what, r)
		}
	}()
	fn()
}

func closeStage(t *testing.T, v any) {
	t.Helper()
	c, ok := v.(stages.Closer)
	if !ok {
		return
	}
	var first, second error
	callSafely(t, "first Close", func() { first = c.Close() })
	callSafely(t, "second Close", func() { second = c.Close() })
	if first != nil {
		t.Errorf("Close: %v", first)
	}
	if first == nil && second != nil {
		t.Errorf("second Close returned %v: Close must be idempotent", second)
	}
}

func checkSourceCancelled(t *testing.T, src stages.Source) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	emitted := 0
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic: %v", r)
			}
		}()
		done <- src.Read(ctx, func(ctx context.Context, msg *message.Message) error {
			emitted++
			return ctx.Err()
		})
	}()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Read with a cancelled context returned %v; want nil or an error wrapping context.Canceled", err)
		}
	case <-time.After(promptly):
		t.Errorf("Read with a cancelled context did not return within %v", promptly)
	}
}

func checkSinkCancelled(t *testing.T, s stages.Sink) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	msg := message.NewMessage("stagetest-1", []byte(`{"stream":"s","ts":"2026-01-02T15:04:05Z","value":1}`+"\n"))
	setMeta(msg, stages.KindReadings)
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic: %v", r)
			}
		}()
		done <- s.Write(ctx, []*message.Message{msg})
	}()
	select {
	case err := <-done:
		if err != nil && strings.HasPrefix(err.Error(), "panic: ") {
			t.Errorf("Write with a cancelled context: %v", err)
		}
	case <-time.After(promptly):
		t.Errorf("Write with a cancelled context did not return within %v", promptly)
	}
}

func setMeta(msg *message.Message, kind string) {
	msg.Metadata.Set(stages.MetaKind, kind)
	msg.Metadata.Set(stages.MetaNode, "stagetest-node")
	msg.Metadata.Set(stages.MetaStream, "stagetest-stream")
	msg.Metadata.Set(stages.MetaSeq, "1")
	msg.Metadata.Set(stages.MetaPipeline, "stagetest")
}

// payloadKinds are the payload kinds stages may consume and produce.
var payloadKinds = []string{stages.KindReadings, stages.KindFrame, stages.KindImage, stages.KindInference}

// malformed is garbage of each payload kind that no stage should accept.
var malformed = map[string][][]byte{
	stages.KindReadings: {
		[]byte("{not json"),
		[]byte("\x00\xff\xfe\x01binary garbage"),
		[]byte(`{"stream":"s","ts":"yesterday","value":1}` + "\n"),
		[]byte(`{"stream":"s","ts":"2026-01-02T15:04:05Z","value":"many"}` + "\n"),
	},
	stages.KindFrame: {
		[]byte("\x00\xff\xfe\x01 not a frame"),
		[]byte("EF"),
		[]byte(strings.Repeat("\xff", 64)),
	},
	stages.KindImage: {
		[]byte("\x00\xff\xfe\x01 not a picture"),
		[]byte("\x89PNG\r\n\x1a\n\x00\x00"),        // PNG signature, then nothing
		[]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), // JPEG start, cut short
		[]byte("BM\x00\x00"),                       // BMP magic, cut short
	},
	stages.KindInference: {
		[]byte("{not json"),
	},
}

func checkMalformed(t *testing.T, reg *stages.Registration, p stages.Processor, f Features) {
	kinds := reg.Consumes
	if len(kinds) == 0 {
		kinds = []string{stages.KindReadings, stages.KindFrame}
	}
	type input struct {
		kind    string
		payload []byte
	}
	var inputs []input
	for _, k := range kinds {
		for _, payload := range malformed[k] {
			inputs = append(inputs, input{k, payload})
		}
		for _, payload := range f.MalformedPayloads {
			inputs = append(inputs, input{k, payload})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, in := range inputs {
		msg := message.NewMessage(fmt.Sprintf("stagetest-%d", i), in.payload)
		setMeta(msg, in.kind)
		var err error
		panicked := false
		func() {
			defer func() {
				if r := recover(); r != nil {
					panicked = true
					t.Errorf("Process panicked on malformed %s payload %q: %v", in.kind, short(in.payload), r)
				}
			}()
			_, err = p.Process(ctx, msg)
		}()
		if !panicked && err == nil && !f.PassThrough {
			t.Errorf("Process accepted malformed %s payload %q; want an error (the message is Nacked)", in.kind, short(in.payload))
		}
	}
}
