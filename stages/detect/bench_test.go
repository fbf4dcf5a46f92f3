package detect

import (
	"context"
	"os"
	"testing"
)

// BenchmarkResize is the stage's resize alone: example.jpg's 1920×1280 RGB
// samples to the SSD model's 300×300.
func BenchmarkResize(b *testing.B) {
	data, err := os.ReadFile(exampleFile(b, "ssd/example.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	px, _, err := decodeImage(data, 3, &decodeScratch{})
	if err != nil {
		b.Fatal(err)
	}
	var r resizer
	dst := make([]uint8, 300*300*3)
	b.ReportAllocs()
	for b.Loop() {
		r.resize(dst, px.pix, px.w, px.h, 3, 300, 300)
	}
}

// BenchmarkProcess is one message through the stage: decode, resize,
// inference, result.
func BenchmarkProcess(b *testing.B) {
	for _, bc := range []struct{ name, model, picture string }{
		{"ssd/example.jpg", "ssd/detect.tflite", "ssd/example.jpg"},
		{"mnist/3.png", "mnist/mnist_model.tflite", "mnist/3.png"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Model = exampleFile(b, bc.model)
			d, err := New(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			msg := imageMessage(b, exampleFile(b, bc.picture))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Process(context.Background(), msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecode is decoding example.jpg (1920×1280, 4:2:0) to RGB samples,
// libjpeg's chroma upsampling included.
func BenchmarkDecode(b *testing.B) {
	data, err := os.ReadFile(exampleFile(b, "ssd/example.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	var sc decodeScratch
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := decodeImage(data, 3, &sc); err != nil {
			b.Fatal(err)
		}
	}
}
