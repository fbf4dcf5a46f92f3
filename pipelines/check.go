package pipelines

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var (
	durationType    = reflect.TypeOf(time.Duration(0))
	timeType        = reflect.TypeOf(time.Time{})
	yamlUnmarshaler = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// maxVisits bounds the values check walks in one file.
const maxVisits = 100_000

func reflectTypeOf(v any) reflect.Type { return reflect.TypeOf(v) }

// check walks node n against Go type t the way yaml.v3 would decode it, and
// reports what yaml.v3 would silently accept or report without a clear place:
// unknown and duplicate keys, wrong types, malformed durations. path is the step
// ("stages[2] (encode)"); field is the field path inside it ("sensors[1].interval").
func (l *loader) check(n *yaml.Node, t reflect.Type, path, field string) {
	n = deref(n)
	if t == nil || n == nil {
		return
	}
	// Aliases can make a small file expand to a huge tree; stop walking early.
	if l.visits++; l.visits > maxVisits {
		if l.visits == maxVisits+1 {
			l.errorf(n.Line, path, "settings too large or too deeply aliased (more than %d values)", maxVisits)
		}
		return
	}
	// Types decoding themselves get the node as is; yaml.v3 reports their errors.
	if t.Implements(yamlUnmarshaler) || reflect.PointerTo(t).Implements(yamlUnmarshaler) {
		return
	}
	if t == durationType {
		l.checkDuration(n, path, field)
		return
	}
	if t == timeType || (t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(textUnmarshaler) && t.Kind() != reflect.Struct) {
		if n.Kind != yaml.ScalarNode {
			l.typeError(n, path, field, "string", "")
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		l.check(n, t.Elem(), path, field)
	case reflect.Interface:
		return
	case reflect.String:
		if n.Kind != yaml.ScalarNode || isNull(n) || n.ShortTag() == "!!bool" || n.ShortTag() == "!!binary" {
			hint := ""
			if n.ShortTag() == "!!bool" {
				hint = " (quote it if you mean the text)"
			}
			l.typeError(n, path, field, "string", hint)
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			l.typeError(n, path, field, "boolean (true or false)", "")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			l.typeError(n, path, field, "integer", "")
			return
		}
		if v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil && reflect.New(t).Elem().OverflowInt(v) {
			l.errorf(n.Line, path, "field %q: %s is out of range", field, n.Value)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			l.typeError(n, path, field, "integer", "")
			return
		}
		if strings.HasPrefix(n.Value, "-") {
			l.errorf(n.Line, path, "field %q: want a non-negative integer, got %s", field, n.Value)
			return
		}
		if v, err := strconv.ParseUint(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil && reflect.New(t).Elem().OverflowUint(v) {
			l.errorf(n.Line, path, "field %q: %s is out of range", field, n.Value)
		}
	case reflect.Float32, reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
			l.typeError(n, path, field, "number", "")
			return
		}
		if t.Kind() == reflect.Float32 {
			if v, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsInf(v, 0) && math.Abs(v) > math.MaxFloat32 {
				l.errorf(n.Line, path, "field %q: %s is out of range", field, n.Value)
			}
		}
	case reflect.Slice, reflect.Array:
		if isNull(n) {
			return
		}
		if t.Elem().Kind() == reflect.Uint8 && n.Kind == yaml.ScalarNode {
			return // []byte from a string or !!binary
		}
		if n.Kind != yaml.SequenceNode {
			l.typeError(n, path, field, "a list", "")
			return
		}
		if t.Kind() == reflect.Array && len(n.Content) != t.Len() {
			l.errorf(n.Line, path, "field %q: want a list of %d items, got %d", field, t.Len(), len(n.Content))
		}
		for i, item := range n.Content {
			l.check(item, t.Elem(), path, fmt.Sprintf("%s[%d]", field, i))
		}
	case reflect.Map:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			l.typeError(n, path, field, "a mapping", "")
			return
		}
		l.eachPair(n, path, field, func(key string, k, v *yaml.Node) {
			l.check(k, t.Key(), path, joinField(field, key))
			l.check(v, t.Elem(), path, joinField(field, key))
		})
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if isNull(n) {
				return
			}
			l.typeError(n, path, field, "a mapping", "")
			return
		}
		fields, rest := yamlFields(t)
		names := make([]string, 0, len(fields))
		for name := range fields {
			names = append(names, name)
		}
		sort.Strings(names)
		l.eachPair(n, path, field, func(key string, k, v *yaml.Node) {
			ft, ok := fields[key]
			if !ok && rest != nil {
				l.check(v, rest.Elem(), path, joinField(field, key))
				return
			}
			if !ok {
				name := joinField(field, key)
				switch s := closest(key, names); {
				case s != "":
					l.errorf(k.Line, path, "unknown field %q (did you mean %q?)", name, s)
				case len(names) == 0:
					l.errorf(k.Line, path, "unknown field %q (this stage has no settings)", name)
				default:
					l.errorf(k.Line, path, "unknown field %q (want %s)", name, strings.Join(names, "|"))
				}
				return
			}
			l.check(v, ft, path, joinField(field, key))
		})
	}
}

func (l *loader) checkDuration(n *yaml.Node, path, field string) {
	const want = "duration such as 250ms, 5s, 1m30s"
	if n.Kind != yaml.ScalarNode || isNull(n) {
		l.typeError(n, path, field, want, "")
		return
	}
	if n.ShortTag() == "!!int" || n.ShortTag() == "!!float" {
		if n.Value == "0" {
			return
		}
		l.errorf(n.Line, path, "field %q: want a %s, got %s (add a unit)", field, want, describeNode(n))
		return
	}
	if _, err := time.ParseDuration(n.Value); err != nil {
		l.errorf(n.Line, path, "field %q: want a %s, got %s", field, want, describeNode(n))
	}
}

func (l *loader) typeError(n *yaml.Node, path, field, want, hint string) {
	if field == "" {
		l.errorf(n.Line, path, "want %s, got %s", want, describeNode(n))
		return
	}
	l.errorf(n.Line, path, "field %q: want %s, got %s%s", field, want, describeNode(n), hint)
}

// ConfigKeys maps the YAML keys a config struct type accepts to their Go types,
// following ",inline" structs: the keys the loader's strict decoding allows.
func ConfigKeys(t reflect.Type) map[string]reflect.Type {
	fields, _ := yamlFields(t)
	return fields
}

// yamlFields maps the YAML keys of struct type t to their types, following
// ",inline" structs; rest is the type of an ",inline" map catching other keys.
func yamlFields(t reflect.Type) (fields map[string]reflect.Type, rest reflect.Type) {
	fields = map[string]reflect.Type{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			if !sf.IsExported() || name == "-" {
				continue
			}
			if strings.Contains(opts, "inline") {
				ft := sf.Type
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				switch ft.Kind() {
				case reflect.Struct:
					walk(ft)
				case reflect.Map:
					rest = ft
				}
				continue
			}
			if name == "" {
				name = strings.ToLower(sf.Name)
			}
			fields[name] = sf.Type
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct {
		walk(t)
	}
	return fields, rest
}
