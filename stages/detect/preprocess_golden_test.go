package detect

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeflow/edgeflow/internal/testenv"
	"github.com/edgeflow/edgeflow/internal/tflite/golden"
)

// goldenDir holds the reference cases of the interpreter's tests.
var goldenDir = filepath.Join(testenv.RepoRoot(), "internal", "tflite", "testdata", "golden")

// imageFile finds a golden case's picture: "../shared/…" or "module@version/path".
func imageFile(t *testing.T, origin string) string {
	t.Helper()
	if rest, ok := strings.CutPrefix(origin, "../shared/"); ok {
		return testenv.SharedFile(t, rest)
	}
	mod, path, ok := strings.Cut(origin, "@")
	if !ok {
		t.Fatalf("image origin %q: want ../shared/… or module@version/path", origin)
	}
	version, path, _ := strings.Cut(path, "/")
	return filepath.Join(testenv.GoModuleDir(t, mod+"@"+version), filepath.FromSlash(path))
}

// TestPreprocessGolden decodes each golden image case's picture, resizes it
// the stage's way and compares with the recorded input tensor. PNG and BMP
// decode exactly as Pillow does, so their tensors must match byte for byte;
// JPEG decoders differ in their IDCT (Go's image/jpeg against libjpeg-turbo's),
// so JPEG cases report their differences and must stay within the bounds
// measured when this test was written.
func TestPreprocessGolden(t *testing.T) {
	cases, err := golden.Load(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cases {
		if c.Input.Source.Kind != "image" {
			continue
		}
		n++
		t.Run(c.ID(), func(t *testing.T) {
			data, err := os.ReadFile(imageFile(t, c.Input.Source.ImageOrigin))
			if err != nil {
				t.Fatal(err)
			}
			layout, err := imageLayoutOf(c.Input.Shape)
			if err != nil {
				t.Fatal(err)
			}
			px, format, err := decodeImage(data, layout.ch, &decodeScratch{})
			if err != nil {
				t.Fatal(err)
			}
			if px.w != c.Input.Source.ImageSize[0] || px.h != c.Input.Source.ImageSize[1] {
				t.Fatalf("decoded %d×%d, the case says %v", px.w, px.h, c.Input.Source.ImageSize)
			}
			var r resizer
			got := make([]uint8, layout.w*layout.h*layout.ch)
			r.resize(got, px.pix, px.w, px.h, px.ch, layout.w, layout.h)
			want := c.Input.Data
			if c.Input.DType == golden.Float32 {
				fl, err := c.Input.Float32s()
				if err != nil {
					t.Fatal(err)
				}
				want = make([]uint8, len(fl))
				for i, v := range fl {
					want[i] = uint8(math.Round(float64(v) * 255))
					if v != float32(want[i])/255 {
						t.Fatalf("input[%d] = %v is not p/255", i, v)
					}
				}
			}
			diff, maxDiff, sum := 0, 0, 0
			for i := range got {
				d := int(got[i]) - int(want[i])
				if d < 0 {
					d = -d
				}
				if d != 0 {
					diff++
					sum += d
					maxDiff = max(maxDiff, d)
				}
			}
			t.Logf("%s %d×%d → %d×%d×%d: %d of %d samples differ, max %d, mean abs %.3f",
				format, px.w, px.h, layout.w, layout.h, layout.ch, diff, len(got), maxDiff, float64(sum)/float64(len(got)))
			if format != "jpeg" && diff != 0 {
				t.Errorf("%s: want the recorded tensor byte for byte", format)
			}
			if format == "jpeg" && (maxDiff > jpegMaxDiff || float64(sum)/float64(len(got)) > jpegMeanDiff) {
				t.Errorf("jpeg: differences beyond max %d, mean %.2f", jpegMaxDiff, jpegMeanDiff)
			}
		})
	}
	if n == 0 {
		t.Fatal("no image cases in the golden set")
	}
}

// Bounds on the JPEG cases' differences from Pillow (libjpeg-turbo), as
// measured with libjpeg's chroma upsampling and colour conversion redone:
// at most 2 levels on a sample (ssd_detect/example), 0.043 on average
// (parrot.jpg at 224×224); 2.5 % to 4.3 % of the samples differ. What is left
// comes from the IDCTs (Go's image/jpeg against libjpeg's jidctint).
const (
	jpegMaxDiff  = 2
	jpegMeanDiff = 0.05
)
