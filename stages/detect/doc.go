// Package detect is the "detect" processor: it runs a TensorFlow Lite model
// (package internal/tflite, pure Go) on each message and emits the result as
// a JSON message of kind inference.
//
// A message of kind image (a JPEG, PNG or BMP file's bytes, from the images
// or http-images source) is decoded, converted to RGB or grey as the model's
// input has 3 or 1 channels, resized to the input's size with Pillow's
// antialiased bilinear filter (byte for byte what PIL's Image.resize gives,
// so models see what they were evaluated on) and written into the input
// tensor: quantised inputs take the 8-bit samples as they are, float inputs
// p/255, or (p - mean)/std when configured. A message of kind readings is a
// window: its N readings fill an input of N values, optionally interleaving
// several streams. The model's outputs become a Result: the top classes
// (classify), SSD detections with boxes and labels (ssd), a score against a
// threshold (score) or every output tensor (raw). docs/detect.md documents
// the configuration, the result schema and the preprocessing.
//
// The model is loaded, checked and its interpreters prepared when the stage
// is built. SwapModel replaces it at run time atomically: the new model is
// made ready completely, then an atomic pointer switches to it, so every
// message runs wholly on one model; a future model topic and over-the-air
// updates use that hook (the ModelSwapper interface), finding the stages of
// a running pipeline with Running(pipeline).
package detect
