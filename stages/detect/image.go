package detect

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // registers the JPEG decoder
	_ "image/png"  // registers the PNG decoder

	_ "golang.org/x/image/bmp" // registers the BMP decoder
)

// ErrNotImage is wrapped by the errors for payloads that are not a picture
// edgeflow decodes (JPEG, PNG, BMP) or are corrupt.
var ErrNotImage = errors.New("not a JPEG, PNG or BMP picture")

// MaxImagePixels bounds the pictures decoded (width × height), so that a
// hostile header cannot make the stage allocate gigabytes.
const MaxImagePixels = 50_000_000

// pixels is a decoded picture as interleaved 8-bit samples: ch is 3 (R, G, B)
// or 1 (grey, luma as Pillow's convert("L") computes it).
type pixels struct {
	w, h, ch int
	pix      []uint8
}

// decodeScratch is the memory decodeImage reuses between pictures.
type decodeScratch struct {
	pix, cb, cr, row []uint8
}

// decodeImage decodes a JPEG, PNG or BMP picture into interleaved samples of
// ch channels (1 or 3), reusing sc's memory (the result's pix is sc.pix). Alpha is dropped
// without compositing and grey is Pillow's ITU-R 601-2 luma
// ((19595 R + 38470 G + 7471 B + 2^15) >> 16), as Image.convert("RGB") and
// convert("L") do.
func decodeImage(data []byte, ch int, sc *decodeScratch) (pixels, string, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return pixels{}, "", fmt.Errorf("%w: %w", ErrNotImage, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width*cfg.Height > MaxImagePixels {
		return pixels{}, format, fmt.Errorf("%s picture of %d×%d pixels: %w (want 1 to %d pixels)", format, cfg.Width, cfg.Height, ErrNotImage, MaxImagePixels)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return pixels{}, format, fmt.Errorf("%s: %w: %w", format, ErrNotImage, err)
	}
	b := img.Bounds()
	p := pixels{w: b.Dx(), h: b.Dy(), ch: ch}
	sc.pix = grow(sc.pix, p.w*p.h*ch)
	p.pix = sc.pix
	i := 0
	put := func(r, g, bl uint8) {
		if ch == 1 {
			p.pix[i] = uint8((uint32(r)*19595 + uint32(g)*38470 + uint32(bl)*7471 + 0x8000) >> 16)
			i++
			return
		}
		p.pix[i], p.pix[i+1], p.pix[i+2] = r, g, bl
		i += 3
	}
	switch m := img.(type) {
	case *image.Gray:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := m.Pix[(y-b.Min.Y)*m.Stride:]
			for x := range p.w {
				put(row[x], row[x], row[x])
			}
		}
	case *image.RGBA: // the BMP decoder's 24-bit pictures: alpha is 255
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := m.Pix[(y-b.Min.Y)*m.Stride:]
			for x := range p.w {
				put(row[4*x], row[4*x+1], row[4*x+2])
			}
		}
	case *image.NRGBA:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := m.Pix[(y-b.Min.Y)*m.Stride:]
			for x := range p.w {
				put(row[4*x], row[4*x+1], row[4*x+2])
			}
		}
	case *image.YCbCr:
		var okB, okR bool
		sc.cb, okB = upsampleChroma(m, m.Cb, sc.cb, &sc.row)
		sc.cr, okR = upsampleChroma(m, m.Cr, sc.cr, &sc.row)
		cb, cr := sc.cb, sc.cr
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				yi := m.YOffset(x, y)
				var u, v uint8
				if okB && okR {
					u, v = cb[(y-b.Min.Y)*p.w+x-b.Min.X], cr[(y-b.Min.Y)*p.w+x-b.Min.X]
				} else {
					ci := m.COffset(x, y)
					u, v = m.Cb[ci], m.Cr[ci]
				}
				put(yccToRGB(m.Y[yi], u, v))
			}
		}
	default:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl := straightRGB(m.At(x, y))
				put(r, g, bl)
			}
		}
	}
	return p, format, nil
}

// straightRGB returns a colour's red, green and blue without alpha, as
// Pillow's conversion to RGB keeps them (stored, not premultiplied, values).
func straightRGB(c color.Color) (r, g, b uint8) {
	switch c := c.(type) {
	case color.NRGBA:
		return c.R, c.G, c.B
	case color.RGBA:
		if c.A == 0xff {
			return c.R, c.G, c.B
		}
	case color.Gray:
		return c.Y, c.Y, c.Y
	}
	n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
	return uint8(n.R >> 8), uint8(n.G >> 8), uint8(n.B >> 8)
}
