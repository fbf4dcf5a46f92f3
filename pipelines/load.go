package pipelines

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/edgeflow/edgeflow/edge/spool"
	"github.com/edgeflow/edgeflow/stages"
)

// topKeys are the keys a pipeline file may have at its top level.
var topKeys = []string{"name", "node_selector", "sources", "stages", "sinks", deadLetterSection}

// sections maps each step list to the stage kind it holds.
var sections = []struct {
	key  string
	kind stages.Kind
}{{"sources", stages.KindSource}, {"stages", stages.KindProcessor}, {"sinks", stages.KindSink}}

// namePattern is what a pipeline name may look like: it ends up in message
// metadata, metric labels and log lines.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// LoadFile reads and loads one pipeline file; see Load.
func LoadFile(path string) (*Pipeline, error) {
	return loadFile(path, nil)
}

func loadFile(path string, only func(*stages.Registration) bool) (*Pipeline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	return load(path, data, only)
}

// LoadFiles loads several pipeline files and also rejects two pipelines with the
// same name. It returns the pipelines that loaded and every error of every file.
func LoadFiles(paths ...string) ([]*Pipeline, error) {
	return loadFiles(paths, nil)
}

func loadFiles(paths []string, only func(*stages.Registration) bool) ([]*Pipeline, error) {
	var (
		out   []*Pipeline
		errs  []error
		names = map[string]*Pipeline{}
	)
	for _, path := range paths {
		p, err := loadFile(path, only)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if first, dup := names[p.Name]; dup {
			errs = append(errs, &Error{File: p.File, Line: p.nameLine, Path: "name",
				Err: fmt.Errorf("pipeline name %q is already used by %s; names must be unique", p.Name, first.File)})
			continue
		}
		names[p.Name] = p
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

// Load parses and validates one pipeline file. name is the file name used in
// error messages and for the default pipeline name. Every problem in the file is
// reported, each as a *Error (FILE:LINE: PATH: message), joined with errors.Join.
// Load never builds a stage: nothing is opened or connected.
func Load(name string, data []byte) (*Pipeline, error) {
	return load(name, data, nil)
}

// load is Load seeing only the registered stages only accepts (all when nil).
func load(name string, data []byte, only func(*stages.Registration) bool) (p *Pipeline, err error) {
	l := &loader{file: name, only: only}
	defer func() {
		if r := recover(); r != nil {
			// The YAML library or a stage's Validate panicked: report, never crash.
			p, err = nil, &Error{File: name, Err: fmt.Errorf("internal error while loading: %v", r)}
		}
	}()
	p = l.load(data)
	if len(l.errs) > 0 {
		return nil, joinSorted(l.errs)
	}
	return p, nil
}

type loader struct {
	file   string
	errs   []*Error
	visits int // values checked, see maxVisits
	only   func(*stages.Registration) bool
}

// lookup is stages.Lookup limited to the stages l.only accepts.
func (l *loader) lookup(kind stages.Kind, id string) (*stages.Registration, bool) {
	r, ok := stages.Lookup(kind, id)
	if ok && l.only != nil && !l.only(r) {
		return nil, false
	}
	return r, ok
}

// ids is stages.IDs limited to the stages l.only accepts.
func (l *loader) ids(kind stages.Kind) []string {
	var out []string
	for _, id := range stages.IDs(kind) {
		if _, ok := l.lookup(kind, id); ok {
			out = append(out, id)
		}
	}
	return out
}

func (l *loader) errorf(line int, path, format string, args ...any) {
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Path: path, Err: fmt.Errorf(format, args...)})
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError reports an error of the YAML library, keeping its line.
func (l *loader) yamlError(err error, path string, fallbackLine int) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, msg := range msgs {
		line := fallbackLine
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		msg = strings.TrimPrefix(msg, "yaml: ")
		if path == "" {
			l.errorf(line, path, "invalid YAML: %s", msg)
		} else {
			l.errorf(line, path, "%s", msg)
		}
	}
}

func (l *loader) load(data []byte) *Pipeline {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			l.errorf(1, "", "file is empty; a pipeline needs at least sources: and sinks:")
		} else {
			l.yamlError(err, "", 1)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		l.errorf(extra.Line, "", "more than one YAML document; put one pipeline per file")
	} else if !errors.Is(err, io.EOF) {
		l.yamlError(err, "", extra.Line)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			l.errorf(1, "", "file is empty; a pipeline needs at least sources: and sinks:")
			return nil
		}
		root = root.Content[0]
	}
	root = deref(root)
	if isNull(root) {
		l.errorf(root.Line, "", "file is empty; a pipeline needs at least sources: and sinks:")
		return nil
	}
	if root.Kind != yaml.MappingNode {
		l.errorf(root.Line, "", "want a mapping with keys %s, got %s", strings.Join(topKeys, ", "), describeNode(root))
		return nil
	}

	p := &Pipeline{File: l.file, Name: defaultName(l.file), nameLine: root.Line}
	lists := map[string]*yaml.Node{}
	keyLines := map[string]int{}
	l.eachPair(root, "", "", func(key string, k, v *yaml.Node) {
		keyLines[key] = k.Line
		switch key {
		case "name":
			p.nameLine = k.Line
			if v.Kind != yaml.ScalarNode || isNull(v) {
				l.errorf(v.Line, "name", "want a string, got %s", describeNode(v))
				return
			}
			if !namePattern.MatchString(v.Value) {
				l.errorf(v.Line, "name", "%q is not a valid pipeline name (letters, digits, '.', '_', '-'; starting with a letter or digit)", v.Value)
				return
			}
			p.Name = v.Value
		case "node_selector":
			p.NodeSelector = l.stringMap(v, "node_selector")
		case deadLetterSection:
			p.DeadLetter = l.deadLetter(v)
		case "sources", "stages", "sinks":
			if isNull(v) {
				lists[key] = &yaml.Node{Kind: yaml.SequenceNode, Line: v.Line}
				return
			}
			if v.Kind != yaml.SequenceNode {
				l.errorf(v.Line, key, "want a list of stage entries (- type: ...), got %s", describeNode(v))
				return
			}
			lists[key] = v
		default:
			if s := closest(key, topKeys); s != "" {
				l.errorf(k.Line, "", "unknown top-level key %q (did you mean %q?)", key, s)
			} else {
				l.errorf(k.Line, "", "unknown top-level key %q (want %s)", key, strings.Join(topKeys, "|"))
			}
		}
	})

	if keyLines["name"] == 0 && !namePattern.MatchString(p.Name) {
		l.errorf(root.Line, "name", "the file name gives the pipeline name %q, which is not valid (letters, digits, '.', '_', '-'); set name:", p.Name)
	}

	// Resolve each entry; unresolved entries stay nil so the flow check can tell.
	resolved := map[string][]*Step{}
	for _, sec := range sections {
		list := lists[sec.key]
		if list == nil {
			continue
		}
		for i, item := range list.Content {
			step := l.step(sec.key, sec.kind, i, deref(item))
			resolved[sec.key] = append(resolved[sec.key], step)
			if step != nil {
				switch sec.kind {
				case stages.KindSource:
					p.Sources = append(p.Sources, *step)
				case stages.KindProcessor:
					p.Stages = append(p.Stages, *step)
				case stages.KindSink:
					p.Sinks = append(p.Sinks, *step)
				}
			}
		}
	}
	for _, need := range []struct{ key, what string }{{"sources", "source"}, {"sinks", "sink"}} {
		list := lists[need.key]
		switch {
		case list == nil && keyLines[need.key] == 0:
			l.errorf(root.Line, "", "no %s: a pipeline needs at least one %s (%s: [- type: ...])", need.key, need.what, need.key)
		case list != nil && len(list.Content) == 0:
			l.errorf(keyLines[need.key], need.key, "empty: a pipeline needs at least one %s", need.what)
		}
	}
	l.checkFlow(resolved)
	return p
}

// defaultName is the file's base name without extension.
func defaultName(file string) string {
	base := filepath.Base(file)
	if base == "." || base == "/" || file == "" {
		return "pipeline"
	}
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// eachPair calls fn for each key of mapping n, reporting non-string and duplicate
// keys. path locates the mapping for errors; field is the field path prefix.
func (l *loader) eachPair(n *yaml.Node, path, field string, fn func(key string, k, v *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			l.errorf(k.Line, path, "keys must be strings, got %s", describeNode(k))
			continue
		}
		if k.Value == "<<" && k.Tag == "!!merge" {
			l.errorf(k.Line, path, "YAML merge keys (<<) are not supported in pipeline files")
			continue
		}
		name := joinField(field, k.Value)
		if first, dup := seen[k.Value]; dup {
			if field == "" && path == "" {
				l.errorf(k.Line, path, "duplicate key %q (first at line %d)", k.Value, first)
			} else {
				l.errorf(k.Line, path, "duplicate field %q (first at line %d)", name, first)
			}
			continue
		}
		seen[k.Value] = k.Line
		fn(k.Value, k, v)
	}
}

func joinField(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// stringMap decodes a mapping of strings to strings (node_selector).
func (l *loader) stringMap(v *yaml.Node, path string) map[string]string {
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		l.errorf(v.Line, path, "want a mapping of label: value, got %s", describeNode(v))
		return nil
	}
	out := map[string]string{}
	l.eachPair(v, path, "", func(key string, k, val *yaml.Node) {
		if val.Kind != yaml.ScalarNode || isNull(val) {
			l.errorf(val.Line, path, "label %q: want a string, got %s", key, describeNode(val))
			return
		}
		out[key] = val.Value
	})
	return out
}

// step resolves, decodes and validates one entry; nil when it failed.
func (l *loader) step(section string, kind stages.Kind, i int, item *yaml.Node) *Step {
	path := fmt.Sprintf("%s[%d]", section, i)
	if item.Kind != yaml.MappingNode {
		l.errorf(item.Line, path, "want a mapping with a \"type\" key, got %s", describeNode(item))
		return nil
	}
	var typeNode, spoolNode *yaml.Node
	body := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: item.Line, Column: item.Column}
	for j := 0; j+1 < len(item.Content); j += 2 {
		if k := deref(item.Content[j]); k.Kind == yaml.ScalarNode && k.Value == "type" && typeNode == nil {
			typeNode = deref(item.Content[j+1])
			continue
		}
		if k := deref(item.Content[j]); kind == stages.KindSink && k.Kind == yaml.ScalarNode && k.Value == spoolKey && spoolNode == nil {
			spoolNode = deref(item.Content[j+1])
			continue
		}
		body.Content = append(body.Content, item.Content[j], item.Content[j+1])
	}
	ids := l.ids(kind)
	// want is the parenthesised list of the IDs that would fit here.
	want := "(want " + strings.Join(ids, "|") + ")"
	if len(ids) == 0 {
		want = fmt.Sprintf("(no %ss are compiled in)", kind)
	}
	if typeNode == nil {
		l.errorf(item.Line, path, "missing \"type\" %s", want)
		return nil
	}
	if typeNode.Kind != yaml.ScalarNode || isNull(typeNode) || typeNode.Value == "" {
		l.errorf(typeNode.Line, path, "\"type\": want a %s ID, got %s %s", kind, describeNode(typeNode), want)
		return nil
	}
	id := typeNode.Value
	reg, ok := l.lookup(kind, id)
	if !ok {
		for _, other := range []stages.Kind{stages.KindSource, stages.KindProcessor, stages.KindSink} {
			if other == kind {
				continue
			}
			if _, isOther := l.lookup(other, id); isOther {
				l.errorf(typeNode.Line, path, "%q is a %s, not a %s; %ss go under %s: %s",
					id, other, kind, other, sectionOf(other), strings.Replace(want, "want ", string(kind)+"s here: ", 1))
				return nil
			}
		}
		if s := closest(id, ids); s != "" {
			l.errorf(typeNode.Line, path, "%s %q unknown (did you mean %q?) %s", kind, id, s, want)
		} else {
			l.errorf(typeNode.Line, path, "%s %q unknown %s", kind, id, want)
		}
		return nil
	}
	path = fmt.Sprintf("%s[%d] (%s)", section, i, id)
	cfg := reg.NewConfig()
	before := len(l.errs)
	var spoolCfg *spool.Config
	var spoolImplicit bool
	if kind == stages.KindSink {
		spoolCfg, spoolImplicit = l.spool(spoolNode, id, path)
	}
	l.check(body, reflectTypeOf(cfg), path, "")
	if len(l.errs) > before {
		return nil
	}
	if len(body.Content) > 0 {
		if err := body.Decode(cfg); err != nil {
			l.yamlError(err, path, item.Line)
			return nil
		}
	}
	if err := validate(cfg); err != nil {
		l.validationErrors(err, body, path, item.Line)
		return nil
	}
	return &Step{Path: path, Line: item.Line, Reg: reg, Config: cfg, Spool: spoolCfg, spoolImplicit: spoolImplicit}
}

// validate calls cfg.Validate, reporting a panic as an error.
func validate(cfg stages.Config) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("validating the settings panicked: %v", r)
		}
	}()
	return cfg.Validate()
}

func sectionOf(k stages.Kind) string {
	for _, s := range sections {
		if s.kind == k {
			return s.key
		}
	}
	return string(k)
}

// validationErrors reports what a config's Validate returned, pointing each
// FieldError at its field's line.
func (l *loader) validationErrors(err error, body *yaml.Node, path string, line int) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			l.validationErrors(e, body, path, line)
		}
		return
	}
	field := stages.FieldOf(err)
	if field == "" {
		l.errs = append(l.errs, &Error{File: l.file, Line: line, Path: path, Err: err})
		return
	}
	if n := findField(body, field); n != nil {
		line = n.Line
	}
	last := field
	if i := strings.LastIndexAny(field, ".["); i >= 0 {
		last = strings.TrimRight(field[i+1:], "]")
	}
	if !strings.Contains(err.Error(), last) {
		err = fmt.Errorf("field %q: %w", field, err)
	}
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Path: path, Err: err})
}

var fieldSegmentRE = regexp.MustCompile(`^([^\[\]]*)((?:\[\d+\])*)$`)

// findField returns the key node (or list item) of a field path like
// "sensors[1].interval" inside a stage entry, or the deepest node found.
func findField(body *yaml.Node, field string) *yaml.Node {
	var found *yaml.Node
	cur := body
	for _, seg := range strings.Split(field, ".") {
		m := fieldSegmentRE.FindStringSubmatch(seg)
		if m == nil {
			return found
		}
		if m[1] != "" {
			cur = deref(cur)
			if cur.Kind != yaml.MappingNode {
				return found
			}
			var next *yaml.Node
			for i := 0; i+1 < len(cur.Content); i += 2 {
				if cur.Content[i].Value == m[1] {
					found, next = cur.Content[i], cur.Content[i+1]
					break
				}
			}
			if next == nil {
				return found
			}
			cur = next
		}
		for _, idx := range regexp.MustCompile(`\d+`).FindAllString(m[2], -1) {
			n, _ := strconv.Atoi(idx)
			cur = deref(cur)
			if cur.Kind != yaml.SequenceNode || n >= len(cur.Content) {
				return found
			}
			cur = cur.Content[n]
			found = cur
		}
	}
	return found
}

// checkFlow checks that each step accepts the payload kinds the steps before it
// produce. Unresolved steps (nil) make what follows unknown, so it is not checked.
func (l *loader) checkFlow(resolved map[string][]*Step) {
	from := map[string]string{} // payload kind -> path of the step producing it
	known := len(resolved["sources"]) > 0
	for _, s := range resolved["sources"] {
		if s == nil || len(s.Reg.Produces) == 0 {
			known = false
			continue
		}
		for _, k := range s.Reg.Produces {
			if _, ok := from[k]; !ok {
				from[k] = s.Path
			}
		}
	}
	accepts := func(s *Step) {
		if !known || len(s.Reg.Consumes) == 0 {
			return
		}
		for _, k := range slices.Sorted(mapsKeys(from)) {
			if !slices.Contains(s.Reg.Consumes, k) {
				l.errorf(s.Line, s.Path, "accepts %s payloads, but %s produces %s",
					strings.Join(s.Reg.Consumes, "|"), from[k], k)
			}
		}
	}
	for _, s := range resolved["stages"] {
		if s == nil {
			known = false
			continue
		}
		accepts(s)
		if len(s.Reg.Produces) > 0 {
			from = map[string]string{}
			for _, k := range s.Reg.Produces {
				from[k] = s.Path
			}
		}
	}
	for _, s := range resolved["sinks"] {
		if s != nil {
			accepts(s)
		}
	}
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// deref follows YAML aliases.
func deref(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && depth < 100; depth++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describeNode says what a node is, for "got ..." in messages.
func describeNode(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "nothing (null)"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.DocumentNode:
		return "a document"
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:37] + "..."
	}
	switch n.ShortTag() {
	case "!!str":
		return fmt.Sprintf("string %q", v)
	case "!!int":
		return "integer " + v
	case "!!float":
		return "number " + v
	case "!!bool":
		return "boolean " + v
	case "!!timestamp":
		return "timestamp " + v
	}
	return fmt.Sprintf("%s %q", n.ShortTag(), v)
}
