package anomaly

import "math"

// Confusion counts a detector's decisions against the labels; anomalous is
// the positive class.
type Confusion struct {
	TP, FP, FN, TN int
}

// Add counts one decision.
func (c *Confusion) Add(flagged, anomalous bool) {
	switch {
	case flagged && anomalous:
		c.TP++
	case flagged:
		c.FP++
	case anomalous:
		c.FN++
	default:
		c.TN++
	}
}

// Plus returns the sum of two confusions (pooling nodes).
func (c Confusion) Plus(o Confusion) Confusion {
	return Confusion{TP: c.TP + o.TP, FP: c.FP + o.FP, FN: c.FN + o.FN, TN: c.TN + o.TN}
}

// Positives is the number of anomalous examples.
func (c Confusion) Positives() int { return c.TP + c.FN }

// Precision is TP/(TP+FP); NaN when nothing was flagged.
func (c Confusion) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }

// Recall is TP/(TP+FN); NaN when there is no anomaly.
func (c Confusion) Recall() float64 { return ratio(c.TP, c.TP+c.FN) }

// F1 is 2TP/(2TP+FP+FN), the harmonic mean of precision and recall, 0 when
// anomalies were all missed or only false alarms were raised; NaN when there
// was neither an anomaly nor an alarm (nothing to score).
func (c Confusion) F1() float64 { return ratio(2*c.TP, 2*c.TP+c.FP+c.FN) }

// FalseAlarmRate is FP/(FP+TN); NaN without normal examples.
func (c Confusion) FalseAlarmRate() float64 { return ratio(c.FP, c.FP+c.TN) }

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}
