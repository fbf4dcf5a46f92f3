package train

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/edgeflow/edgeflow/internal/fl/flkafka"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/stages"
)

// Quantizations of the updates sent.
const (
	QuantizeNone    = "none"
	QuantizeFloat16 = "float16"
	QuantizeInt8    = "int8"
)

// Config configures the train processor.
type Config struct {
	Features     []string  `yaml:"features" doc:"Streams whose readings are an example's features, in this order: the readings of these streams with the same node and timestamp make one example. Their number is the model's input width." required:"true" example:"[multihop.humidity, multihop.temperature]"`
	Label        string    `yaml:"label" doc:"Reading label holding an example's class, an integer in [0, classes). Readings without it are not used for training." example:"label"`
	Classes      int       `yaml:"classes" doc:"Number of classes: the model's output width."`
	FeatureMean  []float64 `yaml:"feature_mean" doc:"Subtracted from each feature before training (one value per feature). Empty: 0." example:"[40, 25]"`
	FeatureScale []float64 `yaml:"feature_scale" doc:"Each feature, minus its mean, is divided by this (one positive value per feature). Empty: 1." example:"[10, 5]"`
	Window       Window    `yaml:"window" doc:"Train on windows of the node's own stream instead of single timestamps: an example is the last size timestamps of the features, as z-scores against the node's running mean and deviation and scaled differences (internal/fl/anomaly), labelled with the newest timestamp's label."`
	MaxExamples  int       `yaml:"max_examples" doc:"Examples kept: the latest ones; older ones are forgotten."`
	MinExamples  int       `yaml:"min_examples" doc:"The node skips a round it is selected for while it holds fewer examples."`

	ModelName   string   `yaml:"model_name" doc:"Name of the federated model (the models topic's record key); global models of other names are ignored."`
	ModelsTopic string   `yaml:"models_topic" doc:"Compacted Kafka topic the global models arrive on, with their round, version, selected nodes and deadline."`
	Brokers     []string `yaml:"brokers" doc:"Bootstrap brokers of the models topic as host:port. Empty: the node's brokers." example:"[kafka-1:9092]"`

	LearningRate float64 `yaml:"learning_rate" doc:"SGD step size."`
	BatchSize    int     `yaml:"batch_size" doc:"Minibatch size B."`
	Epochs       int     `yaml:"epochs" doc:"Passes over the local examples per round E."`
	ProximalMu   float64 `yaml:"proximal_mu" doc:"FedProx μ ≥ 0: the local loss gains μ/2·‖w − w_global‖², keeping local models near the global one on non-IID data. 0: plain FedAvg."`
	Seed         uint64  `yaml:"seed" doc:"Seed of the shuffling (with the round: repeatable)." advanced:"true"`

	Quantization string `yaml:"quantization" doc:"How update values are sent: float32 as they are, float16 (half the size) or int8 with a per-tensor scale and stochastic rounding (a quarter)." enum:"none|float16|int8"`
	Compress     bool   `yaml:"compress" doc:"zstd-compress the update's body (worth it with int8)."`

	MinTrainTime time.Duration `yaml:"min_train_time" doc:"Local training of a round takes at least this long: the update is held back until then. Emulates a slow device (stragglers) in tests and trials; 0 in production." advanced:"true"`
}

// Window configures windows of a node's stream (see anomaly.WindowConfig).
type Window struct {
	Size   int     `yaml:"size" doc:"Timestamps in a window, newest last. 0: no windows (an example is one timestamp's features). The model's input width is then features × (2·size − 1): per feature, size z-scores and size − 1 differences."`
	Warmup int     `yaml:"warmup" doc:"Timestamps of a node that only feed its running statistics before its first window (at least size − 1)."`
	MinStd float64 `yaml:"min_std" doc:"Floor of the standard deviations the window's values are divided by (about the sensors' resolution)." advanced:"true"`
	Clip   float64 `yaml:"clip" doc:"Every window feature is clipped to [-clip, clip]." advanced:"true"`
}

// DefaultConfig returns the train processor's defaults.
func DefaultConfig() *Config {
	return &Config{
		Label: "label", Classes: 2, MaxExamples: 10000, MinExamples: 10,
		Window:    Window{Warmup: 120, MinStd: 0.05, Clip: 10},
		ModelName: flkafka.DefaultModelName, ModelsTopic: flkafka.DefaultModelsTopic,
		LearningRate: 0.05, BatchSize: 32, Epochs: 1, Quantization: QuantizeNone,
	}
}

// Validate checks each field and the fields against each other.
func (c *Config) Validate() error {
	if len(c.Features) == 0 {
		return stages.FieldErrorf("features", "features is empty: name the streams that make an example")
	}
	for i, s := range c.Features {
		if s == "" || slices.Contains(c.Features[:i], s) {
			return stages.FieldErrorf(fmt.Sprintf("features[%d]", i), "stream %q is empty or listed twice", s)
		}
	}
	if c.Label == "" {
		return stages.FieldErrorf("label", "label is empty: name the reading label holding the class")
	}
	if c.Classes < 2 || c.Classes > 256 {
		return stages.FieldErrorf("classes", "classes %d not in [2,256]", c.Classes)
	}
	if len(c.FeatureMean) != 0 && len(c.FeatureMean) != len(c.Features) {
		return stages.FieldErrorf("feature_mean", "feature_mean has %d values for %d features", len(c.FeatureMean), len(c.Features))
	}
	for i, v := range c.FeatureMean {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return stages.FieldErrorf(fmt.Sprintf("feature_mean[%d]", i), "feature_mean %v must be finite", v)
		}
	}
	if len(c.FeatureScale) != 0 && len(c.FeatureScale) != len(c.Features) {
		return stages.FieldErrorf("feature_scale", "feature_scale has %d values for %d features", len(c.FeatureScale), len(c.Features))
	}
	for i, v := range c.FeatureScale {
		if !(v > 0) || math.IsInf(v, 0) {
			return stages.FieldErrorf(fmt.Sprintf("feature_scale[%d]", i), "feature_scale %v must be positive and finite", v)
		}
	}
	if c.Window.Size != 0 {
		switch {
		case c.Window.Size < 2 || c.Window.Size > 1024:
			return stages.FieldErrorf("window.size", "window size %d not in [2,1024] (0: no windows)", c.Window.Size)
		case c.Window.Warmup < c.Window.Size-1:
			return stages.FieldErrorf("window.warmup", "window warmup %d: want at least size − 1 = %d", c.Window.Warmup, c.Window.Size-1)
		case !(c.Window.MinStd > 0) || math.IsInf(c.Window.MinStd, 0):
			return stages.FieldErrorf("window.min_std", "window min_std %v must be positive and finite", c.Window.MinStd)
		case !(c.Window.Clip > 0) || math.IsInf(c.Window.Clip, 0):
			return stages.FieldErrorf("window.clip", "window clip %v must be positive and finite", c.Window.Clip)
		}
	}
	if c.MaxExamples < 1 {
		return stages.FieldErrorf("max_examples", "max_examples %d: want at least 1", c.MaxExamples)
	}
	if c.MinExamples < 1 || c.MinExamples > c.MaxExamples {
		return stages.FieldErrorf("min_examples", "min_examples %d not in [1, max_examples %d]", c.MinExamples, c.MaxExamples)
	}
	if c.ModelName == "" {
		return stages.FieldErrorf("model_name", "model_name is empty")
	}
	if err := kafkabus.ValidateTopic(c.ModelsTopic); err != nil {
		return stages.FieldErrorf("models_topic", "%w", err)
	}
	for i, b := range c.Brokers {
		if err := flkafka.ValidateBroker(b); err != nil {
			return stages.FieldErrorf(fmt.Sprintf("brokers[%d]", i), "%w", err)
		}
	}
	if !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0) {
		return stages.FieldErrorf("learning_rate", "learning_rate %v must be positive and finite", c.LearningRate)
	}
	if c.BatchSize < 1 {
		return stages.FieldErrorf("batch_size", "batch_size %d: want at least 1", c.BatchSize)
	}
	if c.Epochs < 1 {
		return stages.FieldErrorf("epochs", "epochs %d: want at least 1", c.Epochs)
	}
	if !(c.ProximalMu >= 0) || math.IsInf(c.ProximalMu, 0) {
		return stages.FieldErrorf("proximal_mu", "proximal_mu %v must be >= 0 and finite", c.ProximalMu)
	}
	if !slices.Contains([]string{QuantizeNone, QuantizeFloat16, QuantizeInt8}, c.Quantization) {
		return stages.FieldErrorf("quantization", "quantization %q unknown (want none|float16|int8)", c.Quantization)
	}
	if c.MinTrainTime < 0 {
		return stages.FieldErrorf("min_train_time", "min_train_time %s must be >= 0", c.MinTrainTime)
	}
	return nil
}

var _ stages.Config = (*Config)(nil)
