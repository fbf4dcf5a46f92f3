package pipelines

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error is one problem found in a pipeline file, located by file, line and path.
// The loader returns every problem it finds joined with errors.Join; use
// errors.As to get the first, or Errors to get them all.
type Error struct {
	File string // file name as given to the loader
	Line int    // 1-based line; 0 when the problem has no line (unreadable file)
	Path string // where in the pipeline: "stages[2] (encode)", "name"; "" for the whole file
	Err  error
}

// Error formats e as FILE:LINE: PATH: message.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File == "" {
		b.WriteString("<input>")
	} else {
		b.WriteString(e.File)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errors flattens err (as returned by Load, LoadFile or LoadFiles) into its
// located errors. Errors that are not *Error are wrapped in one without a line.
func Errors(err error) []*Error {
	if err == nil {
		return nil
	}
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		var pe *Error
		if e, ok := err.(*Error); ok {
			out = append(out, e)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		if errors.As(err, &pe) {
			out = append(out, pe)
			return
		}
		out = append(out, &Error{Err: err})
	}
	walk(err)
	return out
}

// joinSorted joins located errors ordered by file and line (stable otherwise).
func joinSorted(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].File != errs[j].File {
			return errs[i].File < errs[j].File
		}
		return errs[i].Line < errs[j].Line
	})
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

// closest returns the option nearest to s by edit distance when it is close
// enough to be a plausible typo, or "".
func closest(s string, options []string) string {
	best, bestDist := "", -1
	for _, o := range options {
		d := editDistance(strings.ToLower(s), strings.ToLower(o))
		if bestDist < 0 || d < bestDist {
			best, bestDist = o, d
		}
	}
	limit := max(1, min(len(s), len(best))/3)
	if bestDist >= 0 && bestDist <= limit {
		return best
	}
	for _, o := range options {
		if len(s) >= 3 && (strings.HasPrefix(o, s) || strings.HasPrefix(s, o) || isSubsequence(s, o)) {
			return o
		}
	}
	return ""
}

// isSubsequence reports whether the letters of s appear in o in order ("srcs" in "sources").
func isSubsequence(s, o string) bool {
	i := 0
	for j := 0; i < len(s) && j < len(o); j++ {
		if s[i] == o[j] {
			i++
		}
	}
	return i == len(s)
}

// editDistance is the optimal-string-alignment distance between a and b (bytes):
// insertions, deletions, substitutions and swaps of neighbours cost 1.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
