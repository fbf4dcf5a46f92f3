package detect

import "image"

// libjpeg-turbo's decompression steps after the IDCT, as Pillow gets them
// (do_fancy_upsampling on, out_color_space JCS_RGB), redone on the planes of
// Go's image/jpeg: "fancy" triangle upsampling of 4:2:0 and 4:2:2 chroma
// (jdsample.c h2v2_fancy_upsample, h2v1_fancy_upsample) and the table-driven
// YCbCr → RGB conversion (jdcolor.c ycc_rgb_convert). Only the IDCTs still
// differ (Go's against libjpeg's jidctint), by a level here and there.

const (
	yccScaleBits = 16
	yccHalf      = 1 << (yccScaleBits - 1)
)

func fix(x float64) int32 { return int32(x*(1<<yccScaleBits) + 0.5) }

var crR, cbB, crG, cbG [256]int32

func init() {
	for i := range 256 {
		x := int32(i - 128)
		crR[i] = (fix(1.40200)*x + yccHalf) >> yccScaleBits
		cbB[i] = (fix(1.77200)*x + yccHalf) >> yccScaleBits
		crG[i] = -fix(0.71414) * x
		cbG[i] = -fix(0.34414)*x + yccHalf
	}
}

func clamp255(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// yccToRGB is libjpeg's ycc_rgb_convert for one pixel.
func yccToRGB(y, cb, cr uint8) (r, g, b uint8) {
	yy := int32(y)
	return clamp255(yy + crR[cr]), clamp255(yy + (cbG[cb]+crG[cr])>>yccScaleBits), clamp255(yy + cbB[cb])
}

// upsampleChroma returns a chroma plane at full resolution (w×h, stride w),
// upsampled the way libjpeg-turbo does; ok is false for subsamplings it does
// not handle (then the caller samples the nearest chroma value).
func upsampleChroma(m *image.YCbCr, plane, dst []uint8, rowBuf *[]uint8) (out []uint8, ok bool) {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	cw := (w + 1) / 2
	var v2 bool
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio420:
		v2 = true
	case image.YCbCrSubsampleRatio422:
	default:
		return dst, false
	}
	if cw < 2 || m.Rect.Min != (image.Point{}) {
		return dst, false
	}
	ch := h
	if v2 {
		ch = (h + 1) / 2
	}
	dst = grow(dst, w*h)
	*rowBuf = grow(*rowBuf, 2*cw)
	row := *rowBuf
	for oy := range h {
		cy := oy
		if v2 {
			cy = oy / 2
		}
		in0 := plane[cy*m.CStride : cy*m.CStride+cw]
		if !v2 {
			h2v1(row, in0)
		} else {
			ny := cy - 1 // the next nearest chroma row: above for even rows, below for odd ones
			if oy%2 == 1 {
				ny = cy + 1
			}
			ny = min(max(ny, 0), ch-1)
			h2v2(row, in0, plane[ny*m.CStride:ny*m.CStride+cw])
		}
		copy(dst[oy*w:(oy+1)*w], row)
	}
	return dst, true
}

// h2v1 is h2v1_fancy_upsample for one row.
func h2v1(out, in []uint8) {
	n := len(in)
	out[0] = in[0]
	out[1] = uint8((int32(in[0])*3 + int32(in[1]) + 2) >> 2)
	for i := 1; i < n-1; i++ {
		v := int32(in[i]) * 3
		out[2*i] = uint8((v + int32(in[i-1]) + 1) >> 2)
		out[2*i+1] = uint8((v + int32(in[i+1]) + 2) >> 2)
	}
	v := int32(in[n-1])
	out[2*n-2] = uint8((v*3 + int32(in[n-2]) + 1) >> 2)
	out[2*n-1] = uint8(v)
}

// h2v2 is h2v2_fancy_upsample for one output row: in0 the nearest chroma
// row, in1 the next nearest.
func h2v2(out, in0, in1 []uint8) {
	n := len(in0)
	col := func(i int) int32 { return int32(in0[i])*3 + int32(in1[i]) }
	this, next := col(0), col(1)
	out[0] = uint8((this*4 + 8) >> 4)
	out[1] = uint8((this*3 + next + 7) >> 4)
	last := this
	this = next
	for i := 1; i < n-1; i++ {
		next = col(i + 1)
		out[2*i] = uint8((this*3 + last + 8) >> 4)
		out[2*i+1] = uint8((this*3 + next + 7) >> 4)
		last, this = this, next
	}
	out[2*n-2] = uint8((this*3 + last + 8) >> 4)
	out[2*n-1] = uint8((this*4 + 7) >> 4)
}
