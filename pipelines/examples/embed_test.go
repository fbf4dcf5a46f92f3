package examples

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestEmbeddedFilesMatchTheDirectory(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example files: %v", err)
	}
	embedded, err := fs.Glob(FS, "*.yaml")
	if err != nil || len(embedded) != len(files) {
		t.Fatalf("embedded %v, directory %v (%v)", embedded, files, err)
	}
	for _, name := range files {
		want, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := FS.ReadFile(name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: embedded copy differs (%v)", name, err)
		}
	}
	if want, _ := os.ReadFile("demo.yaml"); !bytes.Equal(Demo, want) {
		t.Error("Demo differs from demo.yaml")
	}
}
