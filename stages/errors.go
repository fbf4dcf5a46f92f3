package stages

import (
	"errors"
	"fmt"
)

// FieldError is an error about one config field. Validate should return these
// (FieldErrorf) so the loader can point at the field's line in the pipeline file.
// Field is the YAML path inside the stage entry: "codec", "sensors[1].interval".
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// FieldErrorf returns a *FieldError for field with a formatted message (which may
// use %w). The message should read well on its own: `codec "zip" unknown (want …)`.
func FieldErrorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// FieldOf returns the field an error names, or "".
func FieldOf(err error) string {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}
