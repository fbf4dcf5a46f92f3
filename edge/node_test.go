package edge

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/edgeflow/edgeflow/stages"
)

func TestResolveNodePrecedence(t *testing.T) {
	dir := t.TempDir()
	nodeFile := filepath.Join(dir, "node.yaml")
	if err := os.WriteFile(nodeFile, []byte("id: from-file\nlabels:\n  site: file\nbrokers: [file:9092]\ndata_dir: /file/dir\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	partialFile := filepath.Join(dir, "partial.yaml")
	if err := os.WriteFile(partialFile, []byte("labels: {site: partial, zone: z1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostname := WithHostname(func() (string, error) { return "Host_Name.local", nil })
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		want  stages.Node
		noXDG bool
	}{
		{name: "defaults", env: map[string]string{"HOME": "/home/u"},
			want: stages.Node{ID: "Host_Name.local", Brokers: []string{"127.0.0.1:9092"}, DataDir: "/home/u/.local/state/edgeflow"}},
		{name: "XDG_STATE_HOME", env: map[string]string{"HOME": "/home/u", "XDG_STATE_HOME": "/state"},
			want: stages.Node{ID: "Host_Name.local", Brokers: []string{"127.0.0.1:9092"}, DataDir: "/state/edgeflow"}},
		{name: "relative XDG_STATE_HOME is ignored", env: map[string]string{"HOME": "/home/u", "XDG_STATE_HOME": "state"},
			want: stages.Node{ID: "Host_Name.local", Brokers: []string{"127.0.0.1:9092"}, DataDir: "/home/u/.local/state/edgeflow"}},
		{name: "node file over defaults", args: []string{"--node-file", nodeFile},
			want: stages.Node{ID: "from-file", Labels: map[string]string{"site": "file"}, Brokers: []string{"file:9092"}, DataDir: "/file/dir"}},
		{name: "node file from the environment", env: map[string]string{EnvNodeFile: nodeFile},
			want: stages.Node{ID: "from-file", Labels: map[string]string{"site": "file"}, Brokers: []string{"file:9092"}, DataDir: "/file/dir"}},
		{name: "node file flag over the environment's", args: []string{"--node-file", partialFile},
			env:  map[string]string{EnvNodeFile: nodeFile, "HOME": "/h"},
			want: stages.Node{ID: "Host_Name.local", Labels: map[string]string{"site": "partial", "zone": "z1"}, Brokers: []string{"127.0.0.1:9092"}, DataDir: "/h/.local/state/edgeflow"}},
		{name: "environment over node file", args: []string{"--node-file", nodeFile},
			env:  map[string]string{EnvNodeID: "from-env", EnvNodeLabels: "site=env, rack=3", EnvBrokers: "a:1, b:2", EnvDataDir: "/env/dir"},
			want: stages.Node{ID: "from-env", Labels: map[string]string{"site": "env", "rack": "3"}, Brokers: []string{"a:1", "b:2"}, DataDir: "/env/dir"}},
		{name: "empty environment values are unset", args: []string{"--node-file", nodeFile},
			env:  map[string]string{EnvNodeID: "", EnvNodeLabels: " ", EnvBrokers: ""},
			want: stages.Node{ID: "from-file", Labels: map[string]string{"site": "file"}, Brokers: []string{"file:9092"}, DataDir: "/file/dir"}},
		{name: "flags over everything",
			args: []string{"--node-file", nodeFile, "--node-id", "from-flag", "--labels", "site=flag", "--brokers", "f:9", "--data-dir", "/flag/dir"},
			env:  map[string]string{EnvNodeID: "from-env", EnvNodeLabels: "site=env", EnvBrokers: "a:1", EnvDataDir: "/env/dir"},
			want: stages.Node{ID: "from-flag", Labels: map[string]string{"site": "flag"}, Brokers: []string{"f:9"}, DataDir: "/flag/dir"}},
		{name: "mixed layers", args: []string{"--node-file", nodeFile, "--brokers", "f:9"},
			env:  map[string]string{EnvNodeID: "from-env"},
			want: stages.Node{ID: "from-env", Labels: map[string]string{"site": "file"}, Brokers: []string{"f:9"}, DataDir: "/file/dir"}},
		{name: "tilde data dir", args: []string{"--data-dir", "~/edge"}, env: map[string]string{"HOME": "/home/u"},
			want: stages.Node{ID: "Host_Name.local", Brokers: []string{"127.0.0.1:9092"}, DataDir: "/home/u/edge"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			flags := BindFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			got, err := ResolveNode(flags, lookup, hostname, WithHomeDir(func() (string, error) { return "", errors.New("no home") }))
			if err != nil {
				t.Fatalf("ResolveNode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestResolveNodeErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	unknown := write("unknown.yaml", "id: n1\nbrokres: [a:1]\n")
	badBroker := write("badbroker.yaml", "id: n1\nbrokers:\n  - a:1\n  - nohost\n")
	badYAML := write("bad.yaml", "id: n1\nlabels: [\n")
	badType := write("type.yaml", "id: n1\nlabels: 3\n")
	twoDocs := write("two.yaml", "id: n1\n---\nid: n2\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{name: "unknown key", args: []string{"--node-file", unknown}, want: unknown + ":2: field brokres not found"},
		{name: "bad broker in file", args: []string{"--node-file", badBroker}, want: badBroker + ":4: brokers: broker \"nohost\": want host:port"},
		{name: "YAML syntax", args: []string{"--node-file", badYAML}, want: badYAML + ":2: "},
		{name: "wrong type", args: []string{"--node-file", badType}, want: badType + ":2: cannot unmarshal"},
		{name: "two documents", args: []string{"--node-file", twoDocs}, want: twoDocs + ":3: a node file holds one YAML document"},
		{name: "missing file", args: []string{"--node-file", filepath.Join(dir, "nope.yaml")}, want: "node file: open "},
		{name: "bad labels flag", args: []string{"--labels", "site"}, want: "--labels: label \"site\": want key=value"},
		{name: "bad labels env", env: map[string]string{EnvNodeLabels: "a=1,a=2"}, want: EnvNodeLabels + ": label \"a\" given twice"},
		{name: "bad id env", env: map[string]string{EnvNodeID: "-x"}, want: EnvNodeID + ": node id \"-x\""},
		{name: "bad brokers flag", args: []string{"--brokers", "h:99999"}, want: "--brokers: broker \"h:99999\": port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			flags := BindFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			_, err := ResolveNode(flags, lookup, WithHostname(func() (string, error) { return "h", nil }))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseLabels(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{in: "", want: map[string]string{}},
		{in: "a=1", want: map[string]string{"a": "1"}},
		{in: " a = 1 , b=, c.d/e-f=x ", want: map[string]string{"a": "1", "b": "", "c.d/e-f": "x"}},
		{in: "a=1,,b=2", want: map[string]string{"a": "1", "b": "2"}},
		{in: "a", wantErr: true},
		{in: "=1", wantErr: true},
		{in: "a=1=2", wantErr: true},
		{in: "a b=1", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseLabels(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseLabels(%q) error %v", tt.in, err)
			continue
		}
		if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseLabels(%q) = %v, want %v", tt.in, got, tt.want)
		}
		if !tt.wantErr {
			again, err := ParseLabels(FormatLabels(got))
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("FormatLabels round trip of %v: %v %v", got, again, err)
			}
		}
	}
}

func FuzzParseNodeFile(f *testing.F) {
	f.Add([]byte("id: n1\nlabels: {a: b}\nbrokers: [h:1]\ndata_dir: /d\n"))
	f.Add([]byte("id: [\n"))
	f.Add([]byte("labels:\n  x: 1\n  y: [1]\n"))
	f.Add([]byte("---\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseNodeFile("node.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "node.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted invalid settings %+v: %v", s, err)
		}
	})
}

func FuzzParseLabels(f *testing.F) {
	f.Add("a=1,b=2")
	f.Add("a")
	f.Add(" k = v ,")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLabels(s)
		if err != nil {
			return
		}
		again, err := ParseLabels(FormatLabels(l))
		if err != nil || !reflect.DeepEqual(again, l) {
			t.Fatalf("round trip of %q: %v -> %v (%v)", s, l, again, err)
		}
	})
}
