package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSchemaCommand(t *testing.T) {
	code, out, stderr := lintTestRun(t, "schema")
	if code != 0 {
		t.Fatalf("schema: exit %d: %s", code, stderr)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("schema output is not JSON: %v", err)
	}
	if v["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", v["$schema"])
	}
	code, out, stderr = lintTestRun(t, "schema", "--docs")
	if code != 0 || !strings.HasPrefix(out, "<!-- Generated") || !strings.Contains(out, "# Stage reference") {
		t.Errorf("schema --docs: exit %d, stderr %q, output starts %.80q", code, stderr, out)
	}
	if code, _, _ := lintTestRun(t, "schema", "extra"); code != 2 {
		t.Errorf("schema extra: exit %d; want 2", code)
	}
}
