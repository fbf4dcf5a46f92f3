// Package docs holds edgeflow's documentation. Its test checks that the
// generated files (docs/pipeline.schema.json and docs/stages.md) match what the
// stage registry generates, so that they cannot drift from the code.
package docs

import (
	"bytes"
	"os"
	"testing"

	"github.com/edgeflow/edgeflow/pipelines"
	_ "github.com/edgeflow/edgeflow/stages/all" // exactly the stages edgeflow compiles in
)

func TestGeneratedDocsUpToDate(t *testing.T) {
	schema, err := pipelines.Schema()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		want []byte
	}{
		{"pipeline.schema.json", schema},
		{"stages.md", pipelines.StagesDoc()},
	} {
		got, err := os.ReadFile(tc.file)
		if err != nil {
			t.Errorf("%v: run make generate", err)
			continue
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("docs/%s is out of date with the stage registry: run make generate and commit the result", tc.file)
		}
	}
}
