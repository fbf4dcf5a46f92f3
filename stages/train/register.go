package train

import (
	"github.com/edgeflow/edgeflow/internal/fl/flkafka"
	"github.com/edgeflow/edgeflow/stages"
)

func init() {
	stages.RegisterProcessor(stages.Info{
		ID:      "train",
		Summary: "Federated learning on the edge: trains the global model on the node's labelled readings and emits updates.",
		Description: `Keeps the node's latest labelled examples: the readings of the ` + "`features`" + ` streams
that share a node and timestamp make one example (in that order, optionally shifted by
` + "`feature_mean`" + ` and divided by ` + "`feature_scale`" + `), its class the integer in the reading label
` + "`label`" + `. With ` + "`window.size`" + ` set, an example is instead a window of the node's own
stream: the last size timestamps of the features as z-scores against the node's running
statistics and scaled differences (internal/fl/anomaly's windowing, causal, so a live stream and a
replay give the same examples), labelled with the newest timestamp's label; the model's input
width is then features × (2·size − 1). Readings flow no further: the stage emits only updates.

Beside the pipeline it follows the compacted models topic (` + "`" + flkafka.DefaultModelsTopic + "`" + `), where the
fedavg stage publishes each round's global model with the round id, its version, the nodes
selected and the round's deadline (docs/topics.md). When a round selects this node and its
deadline has not passed, the stage evaluates the global model on its examples, trains it
(minibatch SGD, ` + "`epochs`" + ` passes, optional FedProx ` + "`proximal_mu`" + `) and, at the pipeline's next
flush (every second), emits the update: one message of kind ` + "`" + flkafka.KindUpdate + "`" + ` in edgeflow's update
wire format (docs/federated-learning.md) with the round, the node id, the example count and
the metrics train_loss, train_accuracy, train_seconds, eval_loss, eval_accuracy and
model_version. Send it to the updates topic with a kafka sink: it is spooled and retried like
any other output. A node that restarts reads the topic again and joins the first round that
selects it and is still open.`,
		Consumes: []string{stages.KindReadings},
		Examples: []stages.Example{
			{Title: "Anomaly labels of a TelosB mote's humidity and temperature", YAML: `type: train
features: [multihop.humidity, multihop.temperature]
label: label
feature_mean: [40, 25]
feature_scale: [10, 5]
learning_rate: 0.1
epochs: 2`},
			{Title: "Windows of 8 readings (input width 2 × 15 = 30), after 10 minutes of statistics", YAML: `type: train
features: [multihop.humidity, multihop.temperature]
window:
  size: 8
  warmup: 120`},
			{Title: "FedProx on non-IID nodes, int8 updates", YAML: `type: train
features: [vibration.rms, vibration.peak, temperature]
label: fault
classes: 3
proximal_mu: 0.01
quantization: int8
compress: true`},
		},
	}, DefaultConfig, build)
}
