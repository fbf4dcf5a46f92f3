package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeflow/edgeflow/internal/testenv"
)

func TestModelCommand(t *testing.T) {
	ssd := filepath.Join(testenv.GoModuleDir(t, "github.com/mattn/go-tflite@v1.0.1"), "_example", "ssd", "detect.tflite")
	deeplab := filepath.Join(testenv.GoModuleDir(t, "github.com/mattn/go-tflite@v1.0.1"), "_example", "segment", "deeplabv3_257_mv_gpu.tflite")
	broken := filepath.Join(t.TempDir(), "broken.tflite")
	data, err := os.ReadFile(ssd)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"ssd", []string{"model", ssd}, 0, []string{
			`"TOCO Converted.", schema 3, 1 subgraph(s); subgraph 0: 176 tensors, 64 operators`,
			"[175] normalized_input_image_tensor uint8[1 300 300 3] q(0.0078125,128)",
			"[170] TFLite_Detection_PostProcess:3 float32[]",
			"TFLite_Detection_PostProcess options: {MaxDetections:10 MaxClassesPerDetection:1",
			"unsupported: none",
		}},
		{"unsupported without -check", []string{"model", deeplab}, 0, []string{"RESIZE_BILINEAR", "3  (unsupported)", "unsupported: RESIZE_BILINEAR"}},
		{"unsupported with -check", []string{"model", "-check", deeplab}, 1, []string{"unsupported: RESIZE_BILINEAR"}},
		{"truncated file", []string{"model", broken}, 1, []string{"broken.tflite: tflite: ", "malformed model"}},
		{"no file", []string{"model"}, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, _ := lintTestRun(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
