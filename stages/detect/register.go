package detect

import "github.com/edgeflow/edgeflow/stages"

func init() {
	stages.RegisterProcessor(stages.Info{
		ID:      "detect",
		Summary: "Runs a TensorFlow Lite model on pictures or readings windows and emits classes, detections or scores.",
		Description: `Loads a TensorFlow Lite model (pure Go interpreter; the operators it lacks are named when the
pipeline starts) and runs it on every message. Pictures (messages of kind image: JPEG, PNG or BMP,
from the images or http-images source) are decoded, converted to RGB or grey, resized to the
model's input with Pillow's antialiased bilinear filter (no crop, aspect ratio not kept) and
quantised as the input tensor says. Readings (kind readings) fill the input as a window: as
many values as the input holds, in message order or interleaved by streams.

Each input message gives one message of kind inference: a JSON result (docs/detect.md) with the
top_k classes (classify), the SSD detections at or above threshold with normalised boxes and
labels (ssd), a score and its anomaly flag (score), or every output tensor (raw). Metadata is
carried over; edgeflow-model names the model's sha256 and version.

A message the model cannot take (not a picture, corrupt, a window of the wrong size) fails
alone with an error naming it; the pipeline keeps flowing. The model can be replaced while the
pipeline runs (SwapModel): the new model is prepared completely and switched to atomically.`,
		Consumes: []string{stages.KindImage, stages.KindReadings},
		Produces: []string{stages.KindInference},
		Examples: []stages.Example{
			{Title: "Object detection with an SSD model, labels found beside it", YAML: `type: detect
model: /var/lib/edgeflow/models/detect.tflite
output: ssd
threshold: 0.5
top_k: 10`},
			{Title: "Image classification, top 3", YAML: `type: detect
model: /var/lib/edgeflow/models/mobilenet_v2_1.0_224_quant.tflite
labels: /var/lib/edgeflow/models/imagenet_labels.txt
top_k: 3`},
			{Title: "Anomaly score of a 3-axis vibration window (autoencoder)", YAML: `type: detect
model: /var/lib/edgeflow/models/vibration-ae.tflite
output: score
score: mse
threshold: 0.02
streams: [vibration.x, vibration.y, vibration.z]
mean: 0
std: 9.81`},
		},
	}, DefaultConfig, build)
}
