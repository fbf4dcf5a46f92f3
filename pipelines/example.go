package pipelines

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// NormalizeEntry turns a stage entry snippet into the canonical form of one
// entry of a pipeline file: a mapping whose first key is "type: id" followed by
// the stage's settings. It accepts what stage examples (stages.Example) and test
// configs are written as:
//
//	type: encode          # the canonical form
//	codec: lz4
//
//	- type: encode        # a one-item list, as under stages:
//	  codec: lz4
//
//	encode:               # the stage ID as the only key
//	  codec: lz4
//
//	codec: lz4            # settings only
//
// An empty snippet is the entry with default settings.
func NormalizeEntry(id, snippet string) (string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(snippet), &doc); err != nil {
		return "", fmt.Errorf("stage %q entry: %w", id, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	root = deref(root)
	if root.Kind == yaml.SequenceNode {
		if len(root.Content) != 1 {
			return "", fmt.Errorf("stage %q entry: want one list item, got %d", id, len(root.Content))
		}
		root = deref(root.Content[0])
	}
	var body []*yaml.Node
	switch {
	case root.Kind == yaml.DocumentNode || isNull(root):
		// empty: defaults
	case root.Kind != yaml.MappingNode:
		return "", fmt.Errorf("stage %q entry: want a mapping, got %s", id, describeNode(root))
	case len(root.Content) == 2 && root.Content[0].Value == id && root.Content[0].Value != "type" &&
		(deref(root.Content[1]).Kind == yaml.MappingNode || isNull(deref(root.Content[1]))):
		if v := deref(root.Content[1]); v.Kind == yaml.MappingNode {
			body = v.Content
		}
	default:
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "type" {
				if got := root.Content[i+1].Value; got != id {
					return "", fmt.Errorf("stage %q entry: has type %q", id, got)
				}
				continue
			}
			body = append(body, root.Content[i], root.Content[i+1])
		}
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	out.Content = append(out.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "type"},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: id})
	for _, n := range body {
		n.Style &^= yaml.FlowStyle
	}
	out.Content = append(out.Content, body...)
	b, err := yaml.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("stage %q entry: %w", id, err)
	}
	return string(b), nil
}
