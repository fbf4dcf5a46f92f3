// Package frame implements edgeflow's versioned binary frame format and its
// lossless codec for sensor streams (docs/frame-format.md).
package frame
