package detect

import (
	"fmt"
	"math"
	"slices"

	"github.com/edgeflow/edgeflow/stages"
)

// Output kinds: how the model's outputs are read.
const (
	OutputClassify = "classify" // output 0: one score per class; top_k labels
	OutputSSD      = "ssd"      // TFLite_Detection_PostProcess: boxes, classes, scores, count
	OutputScore    = "score"    // one number (an anomaly score) against threshold
	OutputRaw      = "raw"      // every output tensor's values
)

// Score sources for output: score.
const (
	ScoreOutput = "output" // output 0's first value
	ScoreMSE    = "mse"    // mean squared error between output 0 and the input (autoencoders)
)

// DefaultTopK is the default number of classes or detections kept.
const DefaultTopK = 5

// Config configures the detect processor.
type Config struct {
	Model       string   `yaml:"model" doc:"TensorFlow Lite model file (.tflite). It is loaded, checked for operators the interpreter lacks and prepared when the pipeline starts; a model that does not load fails the pipeline's start." required:"true" example:"/var/lib/edgeflow/models/detect.tflite"`
	Labels      string   `yaml:"labels" doc:"Label file: one label per line (line i names class i), or lines 'ID label'. Empty: the first of <model>.labels.txt, <model>_labels.txt, <model>.txt, labels.txt and labelmap.txt found beside the model, else results carry class numbers only. For ssd a first line '???' (the COCO label maps' background) is skipped, so class 0 is the second line." example:"/var/lib/edgeflow/models/labelmap.txt"`
	Output      string   `yaml:"output" doc:"How the model's outputs are read: classify (output 0 holds one score per class: the top_k best with labels), ssd (the four outputs of TFLite_Detection_PostProcess: boxes, classes, scores, count), score (one number compared with threshold, e.g. an anomaly score) or raw (every output tensor, dequantised)." enum:"classify|ssd|score|raw" example:"ssd"`
	TopK        int      `yaml:"top_k" doc:"classify and ssd: keep at most this many classes or detections, best first. 0 keeps all."`
	Threshold   float64  `yaml:"threshold" doc:"classify and ssd: drop classes and detections scoring below it. score: the result's anomaly flag is score >= threshold." example:"0.5"`
	Score       string   `yaml:"score" doc:"output score: where the score comes from: output (output 0's first value, dequantised) or mse (mean squared error between output 0 and the input the model was given, for autoencoders)." enum:"output|mse" advanced:"true"`
	Mean        float64  `yaml:"mean" doc:"Input normalisation: a pixel or reading v becomes (v - mean) / std, then quantised with the input tensor's scale and zero point when the input is quantised. With std 0 (the default), quantised image inputs take the 8-bit samples as they are (int8: minus 128) and float image inputs p / 255; readings go in as they are." advanced:"true"`
	Std         float64  `yaml:"std" doc:"Input normalisation divisor (see mean); 0 picks the default described there. 127.5 with mean 127.5 maps pixels to [-1, 1]." example:"127.5" advanced:"true"`
	Streams     []string `yaml:"streams" doc:"Readings input: the streams whose readings fill the input, in this order per time step (channel-last: [t0 s0, t0 s1, t1 s0, …]); each must have the same number of readings in a message. Empty: the message's readings in their order, whatever their stream." example:"[vibration.x, vibration.y, vibration.z]"`
	Concurrency int      `yaml:"concurrency" doc:"Interpreters kept per model, so that this many messages can be processed at once when the runtime calls the stage concurrently. Each holds its own activation memory." advanced:"true"`
	Threads     int      `yaml:"threads" doc:"Goroutines one inference splits its operators over; 0: the number of CPUs." advanced:"true"`
	Backend     string   `yaml:"backend" doc:"What runs the model: go (edgeflow's pure-Go interpreter, no cgo) or tflite (TensorFlow Lite's C library, only in binaries built with go build -tags tflite and cgo; docs/detect.md)." enum:"go|tflite" advanced:"true"`
	ModelTopic  string   `yaml:"model_topic" doc:"Follow the global models of federated learning on this compacted Kafka topic (the fedavg stage's models_topic, on the node's brokers): each new version is exported to TensorFlow Lite and swapped in atomically (see SwapModel). model is used until the first version arrives. Empty: the model stays." example:"edgeflow.fl.models"`
	ModelName   string   `yaml:"model_name" doc:"With model_topic: the federated model to follow (the topic's record key). Empty: global." advanced:"true"`
}

// DefaultConfig returns the detect processor's defaults.
func DefaultConfig() *Config {
	return &Config{Output: OutputClassify, TopK: DefaultTopK, Score: ScoreOutput, Concurrency: 1, Backend: BackendGo}
}

// Validate checks each field and the fields against each other.
func (c *Config) Validate() error {
	if c.Model == "" {
		return stages.FieldErrorf("model", "model is empty: name the .tflite file to run")
	}
	if !slices.Contains([]string{OutputClassify, OutputSSD, OutputScore, OutputRaw}, c.Output) {
		return stages.FieldErrorf("output", "output %q unknown (want classify|ssd|score|raw)", c.Output)
	}
	if c.TopK < 0 {
		return stages.FieldErrorf("top_k", "top_k %d must be >= 0 (0 keeps all)", c.TopK)
	}
	if math.IsNaN(c.Threshold) || math.IsInf(c.Threshold, 0) {
		return stages.FieldErrorf("threshold", "threshold %v must be a finite number", c.Threshold)
	}
	if c.Output == OutputSSD && (c.Threshold < 0 || c.Threshold > 1) {
		return stages.FieldErrorf("threshold", "threshold %v must be in [0,1] for output ssd (detection scores are probabilities)", c.Threshold)
	}
	if !slices.Contains([]string{ScoreOutput, ScoreMSE}, c.Score) {
		return stages.FieldErrorf("score", "score %q unknown (want output|mse)", c.Score)
	}
	if c.Score != ScoreOutput && c.Output != OutputScore {
		return stages.FieldErrorf("score", "score %q only applies to output score (output is %s)", c.Score, c.Output)
	}
	if math.IsNaN(c.Mean) || math.IsInf(c.Mean, 0) {
		return stages.FieldErrorf("mean", "mean %v must be a finite number", c.Mean)
	}
	if math.IsNaN(c.Std) || math.IsInf(c.Std, 0) || c.Std < 0 {
		return stages.FieldErrorf("std", "std %v must be a finite number >= 0", c.Std)
	}
	if c.Mean != 0 && c.Std == 0 {
		return stages.FieldErrorf("std", "mean %v is set but std is 0: set std too", c.Mean)
	}
	for i, s := range c.Streams {
		if s == "" || slices.Contains(c.Streams[:i], s) {
			return stages.FieldErrorf(fmt.Sprintf("streams[%d]", i), "stream %q is empty or listed twice", s)
		}
	}
	if c.Concurrency < 1 || c.Concurrency > 64 {
		return stages.FieldErrorf("concurrency", "concurrency %d out of range (want 1 to 64)", c.Concurrency)
	}
	if c.Threads < 0 {
		return stages.FieldErrorf("threads", "threads %d must be >= 0 (0: the number of CPUs)", c.Threads)
	}
	if err := validateBackend(c.Backend); err != nil {
		return err
	}
	return c.validateModelTopic()
}

var _ stages.Config = (*Config)(nil)
