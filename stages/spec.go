package stages

import (
	"reflect"
	"strings"
	"time"
)

// Spec documents a stage: it is the single source for generated docs and the JSON
// Schema of pipeline files, so documentation cannot drift from code.
type Spec struct {
	ID          string
	Kind        Kind
	Summary     string
	Description string
	Consumes    []string
	Produces    []string
	Fields      []Field
	Examples    []Example
}

// Field documents one config field. It is derived from the config struct:
//
//	Codec string `yaml:"codec" doc:"Entropy back end." enum:"zlib|lz4|zstd|none" example:"lz4"`
//
// Tags: yaml (name; "-" hides the field), doc (description), enum (allowed values
// separated by |), example, required:"true" (no default: the user must set it),
// advanced:"true" (hidden from short docs). The default is the value the stage's
// defaults function sets.
type Field struct {
	Name        string
	Type        string // string, integer, number, boolean, duration, array, object, map
	Description string
	Default     any // nil when the zero value is the default and not documented
	Required    bool
	Advanced    bool
	Enum        []string
	Example     string
	Items       *Field  // element type of arrays and maps
	Fields      []Field // members of objects
}

var durationType = reflect.TypeOf(time.Duration(0))

// FieldsOf derives the field list of a config struct (pointer or value),
// taking defaults from the values it holds.
func FieldsOf(cfg any) []Field {
	v := reflect.ValueOf(cfg)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v = reflect.New(v.Type().Elem()).Elem()
			break
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	return structFields(v)
}

func structFields(v reflect.Value) []Field {
	t := v.Type()
	var out []Field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			out = append(out, structFields(v.Field(i))...)
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		f := describe(sf.Type, v.Field(i))
		f.Name = name
		f.Description = sf.Tag.Get("doc")
		f.Required = sf.Tag.Get("required") == "true"
		f.Advanced = sf.Tag.Get("advanced") == "true"
		f.Example = sf.Tag.Get("example")
		if e := sf.Tag.Get("enum"); e != "" {
			f.Enum = strings.Split(e, "|")
		}
		if !f.Required && !v.Field(i).IsZero() && f.Type != "object" {
			f.Default = defaultValue(v.Field(i))
		}
		out = append(out, f)
	}
	return out
}

func describe(t reflect.Type, v reflect.Value) Field {
	if t == durationType {
		return Field{Type: "duration"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsValid() && !v.IsNil() {
			return describe(t.Elem(), v.Elem())
		}
		return describe(t.Elem(), reflect.New(t.Elem()).Elem())
	case reflect.String:
		return Field{Type: "string"}
	case reflect.Bool:
		return Field{Type: "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return Field{Type: "integer"}
	case reflect.Float32, reflect.Float64:
		return Field{Type: "number"}
	case reflect.Slice, reflect.Array:
		item := describe(t.Elem(), reflect.New(t.Elem()).Elem())
		return Field{Type: "array", Items: &item}
	case reflect.Map:
		item := describe(t.Elem(), reflect.New(t.Elem()).Elem())
		return Field{Type: "map", Items: &item}
	case reflect.Struct:
		if !v.IsValid() {
			v = reflect.New(t).Elem()
		}
		return Field{Type: "object", Fields: structFields(v)}
	case reflect.Interface:
		return Field{Type: "any"}
	}
	return Field{Type: t.Kind().String()}
}

func defaultValue(v reflect.Value) any {
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	if v.Kind() == reflect.Pointer {
		return defaultValue(v.Elem())
	}
	return v.Interface()
}
