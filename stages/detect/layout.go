package detect

import (
	"fmt"
	"math"
)

// imageLayout is how a picture fills an input tensor: w×h pixels of ch
// channels, row-major, channels interleaved (HWC).
type imageLayout struct{ w, h, ch int }

// imageLayout reads an input shape as a picture: [1, H, W, C] or [H, W, C]
// with C 1 or 3; a flat [1, N] or [N] is a square grey picture when N is a
// square (MNIST's 784 = 28×28), else a square RGB one when N/3 is.
func imageLayoutOf(shape []int) (imageLayout, error) {
	s := shape
	if len(s) == 4 || len(s) == 2 {
		if s[0] != 1 {
			return imageLayout{}, fmt.Errorf("input shape %v: batch %d, want 1", shape, s[0])
		}
		s = s[1:]
	}
	switch len(s) {
	case 3:
		if (s[2] == 1 || s[2] == 3) && s[0] > 0 && s[1] > 0 {
			return imageLayout{w: s[1], h: s[0], ch: s[2]}, nil
		}
	case 1:
		for _, ch := range []int{1, 3} {
			if side := int(math.Sqrt(float64(s[0] / ch))); s[0] > 0 && s[0]%ch == 0 && side*side*ch == s[0] {
				return imageLayout{w: side, h: side, ch: ch}, nil
			}
		}
	}
	return imageLayout{}, fmt.Errorf("input shape %v is not a picture (want [1, height, width, 1 or 3], or [1, N] with N a square or 3 times one)", shape)
}
