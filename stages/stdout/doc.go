// Package stdout is the "stdout" sink: it prints what reaches the end of a
// pipeline, for trying pipelines out and for piping into other tools. Readings
// are printed as JSON lines; an encoded frame as a one-line JSON summary of its
// header, or, with decode, as the readings it holds.
package stdout
