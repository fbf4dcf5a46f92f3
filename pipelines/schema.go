package pipelines

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/edgeflow/edgeflow/stages"
)

// DurationPattern is the JSON Schema pattern of a Go duration ("250ms", "1m30s", "0").
const DurationPattern = `^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$|^[-+]?0$`

// Schema returns the draft 2020-12 JSON Schema of pipeline files for every
// compiled-in stage (stages.List), for editors' YAML language servers and
// docs/pipeline.schema.json.
func Schema() ([]byte, error) {
	return SchemaFor(stages.List())
}

// SchemaFor returns the JSON Schema of pipeline files allowing only regs.
// Each entry of sources, stages and sinks is discriminated by its "type":
// the matching stage's settings are checked with additionalProperties false.
func SchemaFor(regs []*stages.Registration) ([]byte, error) {
	spoolDef, err := spoolSchema()
	if err != nil {
		return nil, err
	}
	defs := map[string]any{spoolKey: spoolDef}
	byKind := map[stages.Kind][]*stages.Registration{}
	for _, r := range regs {
		byKind[r.Kind] = append(byKind[r.Kind], r)
	}
	for _, kind := range []stages.Kind{stages.KindSource, stages.KindProcessor, stages.KindSink} {
		var ids []any
		var branches []any
		for _, r := range byKind[kind] {
			ids = append(ids, r.ID)
			name := string(kind) + "." + r.ID
			def, err := stageSchema(r)
			if err != nil {
				return nil, err
			}
			defs[name] = def
			branches = append(branches, map[string]any{
				"if":   map[string]any{"properties": map[string]any{"type": map[string]any{"const": r.ID}}, "required": []any{"type"}},
				"then": map[string]any{"$ref": "#/$defs/" + name},
			})
		}
		typeSchema := map[string]any{"type": "string", "description": fmt.Sprintf("The %s's stage ID.", kind)}
		if len(ids) > 0 {
			typeSchema["enum"] = ids
		}
		entry := map[string]any{
			"type":        "object",
			"description": fmt.Sprintf("One %s: \"type\" names the stage, the other keys are its settings.", kind),
			"required":    []any{"type"},
			"properties":  map[string]any{"type": typeSchema},
		}
		if len(branches) > 0 {
			entry["allOf"] = branches
		}
		defs[string(kind)] = entry
	}
	root := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"title":                "edgeflow pipeline",
		"description":          "An edgeflow pipeline file: sources feed ordered processor stages that feed sinks. See docs/pipelines.md.",
		"type":                 "object",
		"additionalProperties": false,
		"required":             []any{"sources", "sinks"},
		"properties": map[string]any{
			"name": map[string]any{"type": "string", "pattern": namePattern.String(),
				"description": "Pipeline name, unique per node. Default: the file's base name without extension."},
			"node_selector": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"},
				"description": "Node labels that must all match for a node to run this pipeline. Empty: every node."},
			"sources": map[string]any{"type": "array", "minItems": 1, "items": map[string]any{"$ref": "#/$defs/source"},
				"description": "Where data comes from; at least one."},
			"stages": map[string]any{"type": []any{"array", "null"}, "items": map[string]any{"$ref": "#/$defs/processor"},
				"description": "Processors, applied in order to every message. May be empty."},
			"sinks": map[string]any{"type": "array", "minItems": 1, "items": map[string]any{"$ref": "#/$defs/sink"},
				"description": "Where data goes; at least one. Every sink gets every message."},
			"dead_letter": map[string]any{"$ref": "#/$defs/sink",
				"description": "Where inputs that cannot be parsed go, with the reason in their metadata (docs/reliability.md#dead-letters). A kafka sink without a topic writes to " + DefaultDeadLetterTopic + ". Without it such inputs are logged and dropped."},
		},
		"$defs": defs,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("pipelines: schema: %w", err)
	}
	return buf.Bytes(), nil
}

func stageSchema(r *stages.Registration) (map[string]any, error) {
	spec := r.Spec()
	props := map[string]any{"type": map[string]any{"const": r.ID}}
	var required []any
	for _, f := range spec.Fields {
		s, err := fieldSchema(f)
		if err != nil {
			return nil, fmt.Errorf("pipelines: schema of %s %q, field %q: %w", r.Kind, r.ID, f.Name, err)
		}
		props[f.Name] = s
		if f.Required {
			required = append(required, f.Name)
		}
	}
	if r.Kind == stages.KindSink {
		props[spoolKey] = map[string]any{"$ref": "#/$defs/" + spoolKey}
	}
	desc := spec.Summary
	if spec.Description != "" {
		desc += "\n\n" + spec.Description
	}
	out := map[string]any{
		"type":                 "object",
		"title":                fmt.Sprintf("%s %s", r.Kind, r.ID),
		"description":          desc,
		"properties":           props,
		"additionalProperties": false,
		"required":             append([]any{"type"}, required...),
	}
	return out, nil
}

func fieldSchema(f stages.Field) (map[string]any, error) {
	s := typeSchema(f)
	if f.Description != "" {
		s["description"] = f.Description
	}
	if f.Default != nil {
		v, err := jsonValue(f.Default)
		if err != nil {
			return nil, err
		}
		s["default"] = v
	}
	if f.Example != "" {
		s["examples"] = []any{exampleValue(f)}
	}
	if len(f.Enum) > 0 {
		var enum []any
		for _, e := range f.Enum {
			enum = append(enum, scalarValue(f.Type, e))
		}
		s["enum"] = enum
	}
	return s, nil
}

// collectionSchema is the schema of a list or map (which may be null) whose
// elements, under key, follow items.
func collectionSchema(jsonType, key string, items *stages.Field) map[string]any {
	s := map[string]any{"type": []any{jsonType, "null"}}
	if items != nil {
		item, _ := fieldSchema(*items)
		delete(item, "description")
		s[key] = item
	}
	return s
}

func typeSchema(f stages.Field) map[string]any {
	switch f.Type {
	case "string", "integer", "number", "boolean":
		return map[string]any{"type": f.Type}
	case "duration":
		return map[string]any{"type": "string", "pattern": DurationPattern,
			"$comment": "a Go duration: 250ms, 5s, 1m30s, 2h"}
	case "array":
		return collectionSchema("array", "items", f.Items)
	case "map":
		return collectionSchema("object", "additionalProperties", f.Items)
	case "object":
		props := map[string]any{}
		var required []any
		for _, sub := range f.Fields {
			ss, _ := fieldSchema(sub)
			props[sub.Name] = ss
			if sub.Required {
				required = append(required, sub.Name)
			}
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	return map[string]any{}
}

// jsonValue turns a Go default into its JSON form as the YAML file spells it.
func jsonValue(v any) (any, error) {
	if reflect.TypeOf(v) == durationType {
		return fmt.Sprint(v), nil
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := yaml.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return prune(normalizeJSON(out)), nil
}

// prune drops null and empty members of mappings inside a default value
// (unset optional settings of list items), which say nothing to a reader.
func prune(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			e = prune(e)
			if isEmpty(e) {
				delete(v, k)
				continue
			}
			v[k] = e
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = prune(e)
		}
		return v
	}
	return v
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

// normalizeJSON converts YAML-decoded maps to JSON-encodable ones.
func normalizeJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = normalizeJSON(e)
		}
		return v
	case map[any]any:
		out := map[string]any{}
		for k, e := range v {
			out[fmt.Sprint(k)] = normalizeJSON(e)
		}
		return out
	case []any:
		for i, e := range v {
			v[i] = normalizeJSON(e)
		}
		return v
	}
	return v
}

// exampleValue parses an example tag as YAML when it gives the field's type.
func exampleValue(f stages.Field) any {
	switch f.Type {
	case "string", "duration":
		return f.Example
	}
	var v any
	if err := yaml.Unmarshal([]byte(f.Example), &v); err != nil || v == nil {
		return f.Example
	}
	return normalizeJSON(v)
}

func scalarValue(typ, s string) any {
	switch typ {
	case "integer", "number", "boolean":
		var v any
		if err := yaml.Unmarshal([]byte(s), &v); err == nil && v != nil {
			return v
		}
	}
	return strings.TrimSpace(s)
}
