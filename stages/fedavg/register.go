package fedavg

import (
	"github.com/edgeflow/edgeflow/internal/fl/flkafka"
	"github.com/edgeflow/edgeflow/stages"
)

func init() {
	stages.RegisterSource(stages.Info{
		ID:      "fedavg",
		Summary: "Federated learning in the cloud: runs rounds over Kafka, aggregates the edge nodes' updates, publishes the global model.",
		Description: `Coordinates a federation of edge nodes running the train stage. Its clients are the nodes up
on the heartbeats topic (those carrying ` + "`client_labels`" + `) and the nodes listed in ` + "`clients`" + `; a round
starts once ` + "`min_clients`" + ` are known. Each round samples max(min_clients, ⌈fraction·n⌉) clients
(seeded), publishes the global model to the compacted models topic (` + "`" + flkafka.DefaultModelsTopic + "`" + `, key
the model name; headers: round, version, selected nodes, deadline — docs/topics.md) and takes
the updates arriving on the updates topic (` + "`" + flkafka.DefaultUpdatesTopic + "`" + `) until ` + "`quorum`" + ` are accepted or
` + "`round_timeout`" + ` passed: a straggler never blocks a round. Updates of earlier rounds or arriving
after the close are counted as late and dropped, as are duplicates, updates of later rounds and
updates from nodes not selected. The accepted updates are combined with ` + "`rule`" + ` (optionally
clipped and noised: central DP with the stated noise multiplier) into the next version of the
global model, published with the next round.

Each round gives one message of readings, the round report: streams ` + "`<stream>.round.clients`" + `,
` + "`selected`, `accepted`, `late`, `future`, `duplicate`, `unselected`, `stragglers`, `rejected`, `used`,\n`examples`, `seconds`, `version`" + `, the example-weighted means of the updates' ` + "`train_loss`, `train_accuracy`,\n`eval_loss`, `eval_accuracy`" + `, per used node (label node) its ` + "`weight`" + ` in the average (they sum to 1) and its
` + "`node_examples`" + `, all labelled
with the round. After ` + "`rounds`" + ` rounds the final model is published (no node selected) and the
source ends. The stage is a source so that ` + "`edgeflow run`" + ` runs the coordinator on a cloud node like
any pipeline and the reports go wherever its sinks say.`,
		Produces: []string{stages.KindReadings},
		Examples: []stages.Example{
			{Title: "FedAvg over the nodes labelled role=fl, 3 of 4 updates close a round", YAML: `type: fedavg
layers: [2, 16, 2]
client_labels: {role: fl}
min_clients: 4
quorum: 3
round_timeout: 20s
rounds: 100`},
			{Title: "Robust and private: trimmed mean, clipping and Gaussian noise", YAML: `type: fedavg
layers: [3, 32, 3]
fraction: 0.1
min_clients: 10
rule: trimmed_mean
trim: 0.2
clip_norm: 1
noise_multiplier: 1.1`},
		},
	}, DefaultConfig, build)
}
