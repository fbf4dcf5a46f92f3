package train

import "fmt"

// Dataset is a labelled set of examples: row i of Features (Dim values) has
// class Labels[i] in [0, Classes).
type Dataset struct {
	Features []float32
	Labels   []uint8
	Dim      int
	Classes  int
}

// Len is the number of examples.
func (d Dataset) Len() int { return len(d.Labels) }

// Row returns the features of example i (a view).
func (d Dataset) Row(i int) []float32 { return d.Features[i*d.Dim : (i+1)*d.Dim : (i+1)*d.Dim] }

// Check reports whether the dataset is consistent.
func (d Dataset) Check() error {
	if d.Dim <= 0 || d.Classes <= 0 || d.Classes > 256 {
		return fmt.Errorf("dataset: dim %d, classes %d: want dim ≥ 1 and classes in [1,256]", d.Dim, d.Classes)
	}
	if len(d.Features) != len(d.Labels)*d.Dim {
		return fmt.Errorf("dataset: %d feature values for %d examples of %d", len(d.Features), len(d.Labels), d.Dim)
	}
	for i, l := range d.Labels {
		if int(l) >= d.Classes {
			return fmt.Errorf("dataset: labels[%d] = %d, want < %d", i, l, d.Classes)
		}
	}
	return nil
}

// Subset returns the examples at idx, copied, in that order.
func (d Dataset) Subset(idx []int) Dataset {
	out := Dataset{Dim: d.Dim, Classes: d.Classes, Features: make([]float32, 0, len(idx)*d.Dim), Labels: make([]uint8, 0, len(idx))}
	for _, i := range idx {
		out.Features = append(out.Features, d.Row(i)...)
		out.Labels = append(out.Labels, d.Labels[i])
	}
	return out
}
