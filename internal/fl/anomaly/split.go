package anomaly

import (
	"fmt"
	"math"
)

// SplitByTime cuts a node's windows (in time order, as NodeWindows makes
// them) into a training part, the first trainFraction of the readings the
// windows end at, and a test part after it. The test part leaves out the
// first Size−1 windows after the cut, whose readings reach back into the
// training part: no reading is seen by both parts, and every test window is
// later than every training window.
func SplitByTime(windows []Window, trainFraction float64) (trainPart, testPart []Window, err error) {
	if !(trainFraction > 0 && trainFraction < 1) {
		return nil, nil, fmt.Errorf("split: train fraction %v, want in (0,1)", trainFraction)
	}
	if len(windows) == 0 {
		return nil, nil, nil
	}
	for i := 1; i < len(windows); i++ {
		if windows[i].End <= windows[i-1].End {
			return nil, nil, fmt.Errorf("split: windows[%d] ends at reading %d, not after %d", i, windows[i].End, windows[i-1].End)
		}
	}
	first, last := windows[0].End, windows[len(windows)-1].End
	cut := first + int(math.Floor(trainFraction*float64(last-first+1))) // first reading of the test part
	size := len(windows[0].Values) / max(1, windows[0].Channels)
	for _, w := range windows {
		switch {
		case w.End < cut:
			trainPart = append(trainPart, w)
		case w.End-size+1 >= cut:
			testPart = append(testPart, w)
		}
	}
	return trainPart, testPart, nil
}
