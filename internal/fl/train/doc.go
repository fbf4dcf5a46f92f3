// Package train is the edge side of edgeflow's federated learning: local
// training of a multilayer perceptron (model.MLPLayout) in pure Go.
//
// A Trainer starts from the round's global model, runs Config.Epochs passes
// of minibatch SGD over a node's Dataset (shuffled with a seeded generator;
// optional FedProx proximal term μ/2·‖w − w_global‖²) and returns an Update:
// the delta from the global model with the round id, node id, example count
// and the training loss and accuracy. Forward and backward passes are
// batched: each weight row is read once a minibatch (cache-friendly loops
// over float32 slices; see kernels.go for the measured choice of dot and
// axpy). The first, largest layer is kept transposed while training and
// evaluating, so that it sums only the weight rows of non-zero inputs (most
// MNIST pixels are zero). A Trainer keeps its scratch buffers between calls and is not safe
// for concurrent use: simulate many clients with one Trainer a goroutine.
package train
