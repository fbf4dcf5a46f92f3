package schedule

import (
	"fmt"
	"testing"
)

// TestAssignmentMapCopiesOnWrite: a map changed through a writer leaves the
// one it started from as it was, in every node, whether the change adds,
// replaces or removes a node.
func TestAssignmentMapCopiesOnWrite(t *testing.T) {
	var w assignmentMapWriter
	for i := range 1000 {
		w.set(fmt.Sprintf("n%04d", i), []string{fmt.Sprintf("t%d", i)})
	}
	before := w.result()
	for _, tt := range []struct {
		name string
		node string
		ids  []string
		len  int
	}{
		{"add", "new", []string{"x"}, 1001},
		{"replace", "n0007", []string{"y", "z"}, 1000},
		{"remove", "n0042", nil, 999},
		{"remove a node it does not have", "none", nil, 1000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := assignmentMapWriter{m: before}
			w.set(tt.node, tt.ids)
			after := w.result()
			if got := after.Of(tt.node); fmt.Sprint(got) != fmt.Sprint(tt.ids) || after.Len() != tt.len {
				t.Errorf("after: %s has %v, %d nodes; want %v, %d", tt.node, got, after.Len(), tt.ids, tt.len)
			}
			if before.Len() != 1000 || before.Of("new") != nil || fmt.Sprint(before.Of("n0007")) != "[t7]" || fmt.Sprint(before.Of("n0042")) != "[t42]" {
				t.Errorf("the map before changed: %d nodes, new %v, n0007 %v, n0042 %v", before.Len(), before.Of("new"), before.Of("n0007"), before.Of("n0042"))
			}
			n := 0
			for range after.All() {
				n++
			}
			if n != tt.len {
				t.Errorf("All yields %d nodes, want %d", n, tt.len)
			}
		})
	}
}
