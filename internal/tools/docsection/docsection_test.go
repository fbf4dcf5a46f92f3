package docsection

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRewrite(t *testing.T) {
	s := Section{Begin: "<!-- x:begin -->", End: "<!-- x:end -->", Heading: "## X"}
	for _, tc := range []struct {
		name, old, want, wantErr string
	}{
		{name: "appended", old: "# Page\n\ntext\n", want: "# Page\n\ntext\n\n## X\n\n<!-- x:begin -->\nNEW\n<!-- x:end -->\n"},
		{name: "replaced", old: "a\n<!-- x:begin -->\nOLD\n<!-- x:end -->\nb\n", want: "a\n<!-- x:begin -->\nNEW\n<!-- x:end -->\nb\n"},
		{name: "end only", old: "<!-- x:end -->\n", wantErr: "not found in order"},
		{name: "out of order", old: "<!-- x:end -->\n<!-- x:begin -->\n", wantErr: "not found in order"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "page.md")
			if err := os.WriteFile(path, []byte(tc.old), 0o644); err != nil {
				t.Fatal(err)
			}
			err := s.Rewrite(path, "NEW\n")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("error %v, want one naming %s and saying %q", err, path, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}
