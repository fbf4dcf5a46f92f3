package tflite

import (
	"errors"
	"fmt"
)

// Errors that Load wraps; check them with errors.Is.
var (
	// ErrMalformed: the file is not a well-formed TensorFlow Lite model
	// (truncated, offsets or indices out of range, inconsistent sizes).
	ErrMalformed = errors.New("malformed model")
	// ErrTooLarge: the model exceeds one of the fixed limits (see Limits).
	ErrTooLarge = errors.New("model exceeds a limit")
)

// malformed is an ErrMalformed at where (a path like subgraphs[0].tensors[3].shape).
func malformed(where, format string, args ...any) error {
	return fmt.Errorf("tflite: %s: %s: %w", where, fmt.Sprintf(format, args...), ErrMalformed)
}

// tooLarge is an ErrTooLarge at where.
func tooLarge(where, format string, args ...any) error {
	return fmt.Errorf("tflite: %s: %s: %w", where, fmt.Sprintf(format, args...), ErrTooLarge)
}
