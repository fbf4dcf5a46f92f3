package docsection

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Section names the markers around one generated section and the heading
// written before them when the page has neither marker yet.
type Section struct {
	Begin, End string
	Heading    string
}

// Rewrite replaces the text between the markers in the file at path with
// text (which should end in a newline). A file without either marker — or no
// file — gets the heading and the marked section appended; markers missing
// one of the pair, or out of order, are an error naming the file.
func (s Section) Rewrite(path, text string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	section := s.Begin + "\n" + text + s.End
	var out []byte
	b, e := bytes.Index(old, []byte(s.Begin)), bytes.Index(old, []byte(s.End))
	switch {
	case b < 0 && e < 0:
		out = append(bytes.TrimRight(old, "\n"), []byte("\n\n"+s.Heading+"\n\n"+section+"\n")...)
	case b < 0 || e < b:
		return fmt.Errorf("%s: markers %q and %q not found in order", path, s.Begin, s.End)
	default:
		out = append(append(append([]byte{}, old[:b]...), section...), old[e+len(s.End):]...)
	}
	return os.WriteFile(path, out, 0o644)
}
