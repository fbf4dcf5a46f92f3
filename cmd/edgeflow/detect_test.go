package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeflow/edgeflow/internal/testenv"
	"github.com/edgeflow/edgeflow/stages/detect"
)

func TestDetectCommand(t *testing.T) {
	ex := filepath.Join(testenv.GoModuleDir(t, "github.com/mattn/go-tflite@v1.0.1"), "_example")
	ssd, photo := filepath.Join(ex, "ssd", "detect.tflite"), filepath.Join(ex, "ssd", "example.jpg")
	mnist, digit := filepath.Join(ex, "mnist", "mnist_model.tflite"), filepath.Join(ex, "mnist", "3.png")
	junk := filepath.Join(t.TempDir(), "junk.jpg")
	if err := os.WriteFile(junk, []byte("not a picture"), 0o644); err != nil {
		t.Fatal(err)
	}
	labels := filepath.Join(t.TempDir(), "digits.txt")
	if err := os.WriteFile(labels, []byte("zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"ssd example", []string{"detect", ssd, photo}, 0, []string{
			"output ssd, labels " + filepath.Join(ex, "ssd", "labelmap.txt"),
			"(jpeg 1920×1280): ", "  person         0.777  box [ymin 0.0", "  laptop         0.750  box [",
		}},
		{"classify with labels", []string{"detect", "-labels", labels, "-top-k", "2", mnist, digit}, 0, []string{
			"output classify, labels " + labels, "(png 100×100): 2 classes", "  three ", "(class 3)",
		}},
		{"a bad picture among good ones", []string{"detect", mnist, junk, digit}, 1, []string{"(png 100×100)"}},
		{"no picture", []string{"detect", mnist}, 2, nil},
		{"no model", []string{"detect", filepath.Join(t.TempDir(), "none.tflite"), digit}, 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := lintTestRun(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tc.name == "a bad picture among good ones" && !strings.Contains(errOut, junk+": detect: message ") {
				t.Errorf("stderr does not name the bad picture: %s", errOut)
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		code, out, errOut := lintTestRun(t, "detect", "-json", "-top-k", "1", mnist, digit, digit)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 2 {
			t.Fatalf("exit %d, %d lines:\n%s%s", code, len(lines), out, errOut)
		}
		var res detect.Result
		if err := json.Unmarshal([]byte(lines[0]), &res); err != nil || res.Kind != "classify" || len(res.Classes) != 1 || res.Classes[0].Index != 3 || res.Input.Name != "3.png" {
			t.Fatalf("%v: %+v", err, res)
		}
	})
}
