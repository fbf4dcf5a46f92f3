// Package simulate runs federated learning end to end inside one process:
// simulated edge clients train locally (internal/fl/train), their updates
// travel through the real wire format (internal/fl/model, optionally
// quantised and compressed) and the cloud's round logic and aggregation
// (internal/fl/aggregate) build the next global model, which is evaluated on
// a test set after every round. The in-memory Transport counts the bytes
// each round sends down (global model) and up (updates). The MNIST benchmark
// (make bench-fedavg) and its short test are built on Run.
package simulate
