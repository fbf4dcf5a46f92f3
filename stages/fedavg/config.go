package fedavg

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/edgeflow/edgeflow/internal/fl/flkafka"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/stages"
)

// Aggregation rules.
const (
	RuleFedAvg      = "fedavg"
	RuleMedian      = "median"
	RuleTrimmedMean = "trimmed_mean"
	RuleKrum        = "krum"
)

// DefaultHeartbeatTopic is where edge nodes publish heartbeats (edgeflow run).
const DefaultHeartbeatTopic = "edgeflow.heartbeats"

// Config configures the fedavg source.
type Config struct {
	ModelName string `yaml:"model_name" doc:"Name of the federated model: the models topic's record key and the name updates carry."`
	Layers    []int  `yaml:"layers" doc:"Widths of the MLP's layers, input first, classes last: [2, 16, 2] is 2 features, one hidden layer of 16 ReLU units, 2 classes. The initial global model is drawn with init_seed." required:"true" example:"[2, 16, 2]"`
	InitSeed  uint64 `yaml:"init_seed" doc:"Seed of the initial model's weights." advanced:"true"`
	Rounds    int    `yaml:"rounds" doc:"Rounds to run; then the final model is published and the source ends. 0: run until stopped."`
	Resume    bool   `yaml:"resume" doc:"At start, continue from the latest record of model_name on the models topic: its model, version and the next round id (after a restart, or to run more rounds of a finished federation). false: start from the initial model at round 1."`

	Fraction      float64       `yaml:"fraction" doc:"Share C of the known clients sampled per round: max(min_clients, ⌈C·n⌉) of n."`
	MinClients    int           `yaml:"min_clients" doc:"Clients sampled at least per round; a round starts only once this many are known."`
	SamplingSeed  uint64        `yaml:"sampling_seed" doc:"Seed of the sampling (with the round: repeatable)." advanced:"true"`
	Quorum        int           `yaml:"quorum" doc:"A round closes as soon as this many updates are accepted (at most the clients selected). 0: every selected client."`
	RoundTimeout  time.Duration `yaml:"round_timeout" doc:"Deadline of a round after its model is published: the round closes with what it has, stragglers never block it. Updates arriving later are counted as late and dropped."`
	RoundInterval time.Duration `yaml:"round_interval" doc:"Pause between rounds." advanced:"true"`

	Rule               string  `yaml:"rule" doc:"How updates are combined: fedavg (weighted by example counts), median or trimmed_mean (coordinate-wise, unweighted, robust to outliers), krum (the update(s) closest to their neighbours, robust to byzantine nodes)." enum:"fedavg|median|trimmed_mean|krum"`
	Trim               float64 `yaml:"trim" doc:"trimmed_mean: share β of the largest and of the smallest values dropped per coordinate, in [0, 0.5)."`
	Byzantine          int     `yaml:"byzantine" doc:"krum: byzantine nodes f tolerated." advanced:"true"`
	KrumSelect         int     `yaml:"krum_select" doc:"krum: updates averaged among the best-scored (1: Krum, more: multi-Krum)." advanced:"true"`
	ClipNorm           float64 `yaml:"clip_norm" doc:"Central differential privacy: each delta is clipped to this L2 norm S before averaging with equal weights. 0: off."`
	NoiseMultiplier    float64 `yaml:"noise_multiplier" doc:"With clip_norm: Gaussian noise of standard deviation noise_multiplier·S/n is added to each coordinate of the mean of n deltas. ε follows from it, fraction and rounds."`
	NoiseSeed          uint64  `yaml:"noise_seed" doc:"Seed of the noise (with the round: repeatable)." advanced:"true"`
	ServerLearningRate float64 `yaml:"server_learning_rate" doc:"The combined delta is scaled by this before it is added to the global model." advanced:"true"`

	Clients        []string          `yaml:"clients" doc:"Nodes that are always clients, besides those known from heartbeats." example:"[edge-1, edge-2]"`
	ClientLabels   map[string]string `yaml:"client_labels" doc:"Only nodes whose heartbeats carry these labels are clients. Empty: every node up." example:"{role: fl}"`
	HeartbeatTopic string            `yaml:"heartbeat_topic" doc:"Topic of the edge nodes' heartbeats; a node is a client while it is up (heard from within node_timeout). Empty: only clients."`
	NodeTimeout    time.Duration     `yaml:"node_timeout" doc:"A node silent for this long is down and no longer sampled." advanced:"true"`

	ModelsTopic  string   `yaml:"models_topic" doc:"Compacted topic the global models are published to (created compacted when missing)."`
	UpdatesTopic string   `yaml:"updates_topic" doc:"Topic the edge nodes' updates arrive on."`
	Group        string   `yaml:"group" doc:"Consumer group reading the updates topic. Empty: edgeflow.fedavg.<model_name>." advanced:"true"`
	Brokers      []string `yaml:"brokers" doc:"Bootstrap brokers as host:port. Empty: the node's brokers." example:"[kafka-1:9092]"`
	Stream       string   `yaml:"stream" doc:"Prefix of the round report's streams: <stream>.round.accepted, …" advanced:"true"`
}

// DefaultConfig returns the fedavg source's defaults.
func DefaultConfig() *Config {
	return &Config{
		ModelName: flkafka.DefaultModelName, Resume: true, Fraction: 1, MinClients: 1, RoundTimeout: 30 * time.Second,
		Rule: RuleFedAvg, Trim: 0.1, KrumSelect: 1, ServerLearningRate: 1,
		HeartbeatTopic: DefaultHeartbeatTopic, NodeTimeout: 15 * time.Second,
		ModelsTopic: flkafka.DefaultModelsTopic, UpdatesTopic: flkafka.DefaultUpdatesTopic, Stream: "fl",
	}
}

// Validate checks each field and the fields against each other.
func (c *Config) Validate() error {
	if c.ModelName == "" {
		return stages.FieldErrorf("model_name", "model_name is empty")
	}
	if len(c.Layers) < 2 {
		return stages.FieldErrorf("layers", "layers has %d widths: want at least 2 (inputs, classes)", len(c.Layers))
	}
	for i, w := range c.Layers {
		if w < 1 || w > 1<<20 {
			return stages.FieldErrorf(fmt.Sprintf("layers[%d]", i), "width %d not in [1, 1048576]", w)
		}
	}
	if c.Layers[len(c.Layers)-1] < 2 || c.Layers[len(c.Layers)-1] > 256 {
		return stages.FieldErrorf(fmt.Sprintf("layers[%d]", len(c.Layers)-1), "classes %d not in [2, 256]", c.Layers[len(c.Layers)-1])
	}
	if c.Rounds < 0 {
		return stages.FieldErrorf("rounds", "rounds %d must be >= 0 (0: until stopped)", c.Rounds)
	}
	if !(c.Fraction > 0 && c.Fraction <= 1) {
		return stages.FieldErrorf("fraction", "fraction %v not in (0, 1]", c.Fraction)
	}
	if c.MinClients < 1 {
		return stages.FieldErrorf("min_clients", "min_clients %d: want at least 1", c.MinClients)
	}
	if c.Quorum < 0 {
		return stages.FieldErrorf("quorum", "quorum %d must be >= 0 (0: every selected client)", c.Quorum)
	}
	if c.RoundTimeout <= 0 {
		return stages.FieldErrorf("round_timeout", "round_timeout %s must be positive", c.RoundTimeout)
	}
	if c.RoundInterval < 0 {
		return stages.FieldErrorf("round_interval", "round_interval %s must be >= 0", c.RoundInterval)
	}
	if !slices.Contains([]string{RuleFedAvg, RuleMedian, RuleTrimmedMean, RuleKrum}, c.Rule) {
		return stages.FieldErrorf("rule", "rule %q unknown (want fedavg|median|trimmed_mean|krum)", c.Rule)
	}
	if !(c.Trim >= 0 && c.Trim < 0.5) {
		return stages.FieldErrorf("trim", "trim %v not in [0, 0.5)", c.Trim)
	}
	if c.Byzantine < 0 {
		return stages.FieldErrorf("byzantine", "byzantine %d must be >= 0", c.Byzantine)
	}
	if c.KrumSelect < 1 {
		return stages.FieldErrorf("krum_select", "krum_select %d: want at least 1", c.KrumSelect)
	}
	if !(c.ClipNorm >= 0) || math.IsInf(c.ClipNorm, 0) {
		return stages.FieldErrorf("clip_norm", "clip_norm %v must be >= 0 and finite", c.ClipNorm)
	}
	if !(c.NoiseMultiplier >= 0) || math.IsInf(c.NoiseMultiplier, 0) {
		return stages.FieldErrorf("noise_multiplier", "noise_multiplier %v must be >= 0 and finite", c.NoiseMultiplier)
	}
	if c.NoiseMultiplier > 0 && c.ClipNorm == 0 {
		return stages.FieldErrorf("noise_multiplier", "noise_multiplier %v needs clip_norm: the noise is scaled by it", c.NoiseMultiplier)
	}
	if !(c.ServerLearningRate > 0) || math.IsInf(c.ServerLearningRate, 0) {
		return stages.FieldErrorf("server_learning_rate", "server_learning_rate %v must be positive and finite", c.ServerLearningRate)
	}
	for i, n := range c.Clients {
		if n == "" || slices.Contains(c.Clients[:i], n) {
			return stages.FieldErrorf(fmt.Sprintf("clients[%d]", i), "client %q is empty or listed twice", n)
		}
	}
	if c.HeartbeatTopic == "" && len(c.Clients) == 0 {
		return stages.FieldErrorf("clients", "no clients: list clients or set heartbeat_topic")
	}
	if c.HeartbeatTopic != "" {
		if err := kafkabus.ValidateTopic(c.HeartbeatTopic); err != nil {
			return stages.FieldErrorf("heartbeat_topic", "%w", err)
		}
	}
	if c.NodeTimeout <= 0 {
		return stages.FieldErrorf("node_timeout", "node_timeout %s must be positive", c.NodeTimeout)
	}
	if err := kafkabus.ValidateTopic(c.ModelsTopic); err != nil {
		return stages.FieldErrorf("models_topic", "%w", err)
	}
	if err := kafkabus.ValidateTopic(c.UpdatesTopic); err != nil {
		return stages.FieldErrorf("updates_topic", "%w", err)
	}
	if c.UpdatesTopic == c.ModelsTopic {
		return stages.FieldErrorf("updates_topic", "updates_topic and models_topic are both %q", c.ModelsTopic)
	}
	for i, b := range c.Brokers {
		if err := flkafka.ValidateBroker(b); err != nil {
			return stages.FieldErrorf(fmt.Sprintf("brokers[%d]", i), "%w", err)
		}
	}
	if c.Stream == "" {
		return stages.FieldErrorf("stream", "stream is empty")
	}
	return nil
}

var _ stages.Config = (*Config)(nil)
