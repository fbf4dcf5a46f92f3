package detect

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// FuzzPreprocess decodes arbitrary bytes as a picture and resizes what
// decodes to a few model sizes: never a panic, and the output always has the
// size asked for.
func FuzzPreprocess(f *testing.F) {
	img := image.NewNRGBA(image.Rect(0, 0, 5, 3))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 37)
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	f.Add(b.Bytes())
	b.Reset()
	ycc := image.NewRGBA(image.Rect(0, 0, 17, 9))
	ycc.Set(3, 3, color.RGBA{200, 10, 30, 255})
	jpeg.Encode(&b, ycc, nil)
	f.Add(b.Bytes())
	f.Add([]byte("BM\x00\x00"))
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var sc decodeScratch
		var r resizer
		for _, ch := range []int{1, 3} {
			px, _, err := decodeImage(data, ch, &sc)
			if err != nil {
				continue
			}
			if px.w*px.h > 1<<20 {
				continue // keep the fuzzer fast; sizes are bounded by MaxImagePixels anyway
			}
			for _, size := range [][2]int{{1, 1}, {28, 28}, {7, 300}} {
				dst := make([]uint8, size[0]*size[1]*ch)
				r.resize(dst, px.pix, px.w, px.h, ch, size[0], size[1])
			}
		}
	})
}
