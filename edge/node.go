package edge

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/edgeflow/edgeflow/internal/fleet"
	"github.com/edgeflow/edgeflow/internal/telemetry"
	"github.com/edgeflow/edgeflow/stages"
)

// Environment variables read by ResolveNode. docs/configuration.md lists every
// setting with its flag, variable, node-file key and default.
const (
	EnvNodeFile   = "EDGEFLOW_NODE_FILE"
	EnvNodeID     = "EDGEFLOW_NODE_ID"
	EnvNodeLabels = "EDGEFLOW_NODE_LABELS"
	EnvBrokers    = "EDGEFLOW_BROKERS"
	EnvDataDir    = "EDGEFLOW_DATA_DIR"
)

// DefaultBroker is the Kafka broker used when none is configured.
const DefaultBroker = "127.0.0.1:9092"

// NodeSettings are the settings of an edge node as a node file spells them.
// Every field is optional; unset fields come from the defaults.
type NodeSettings struct {
	// ID names the node in message metadata, Kafka keys and logs.
	ID string `yaml:"id"`
	// Labels are matched against the node_selector of pipelines.
	Labels map[string]string `yaml:"labels,omitempty"`
	// Brokers are the cloud Kafka brokers, host:port.
	Brokers []string `yaml:"brokers"`
	// DataDir is where stages keep state (offsets, spools).
	DataDir string `yaml:"data_dir"`
	// Telemetry configures traces, metrics and health endpoints.
	Telemetry telemetry.Config `yaml:"telemetry,omitempty"`
	// Heartbeat configures the node's heartbeats to the cloud (heartbeat.go).
	Heartbeat HeartbeatSettings `yaml:"heartbeat,omitempty"`
}

// Node converts the settings to the node description stages get.
func (s NodeSettings) Node() stages.Node {
	n := stages.Node{ID: s.ID, DataDir: s.DataDir}
	if len(s.Labels) > 0 {
		n.Labels = make(map[string]string, len(s.Labels))
		for k, v := range s.Labels {
			n.Labels[k] = v
		}
	}
	n.Brokers = append(n.Brokers, s.Brokers...)
	return n
}

// NodeFlags are the command-line flags of the node settings; empty means unset.
type NodeFlags struct {
	NodeFile string
	ID       string
	Labels   string
	Brokers  string
	DataDir  string
}

// BindFlags defines the node flags on fs: --node-file, --node-id, --labels,
// --brokers and --data-dir.
func BindFlags(fs *flag.FlagSet) *NodeFlags {
	f := &NodeFlags{}
	fs.StringVar(&f.NodeFile, "node-file", "", "read node settings from the YAML `FILE` (env "+EnvNodeFile+")")
	fs.StringVar(&f.ID, "node-id", "", "node `ID` (env "+EnvNodeID+"; default: the host name)")
	fs.StringVar(&f.Labels, "labels", "", "node labels as `k=v,k=v`, matched by pipeline node_selector (env "+EnvNodeLabels+")")
	fs.StringVar(&f.Brokers, "brokers", "", "Kafka brokers as `host:port,...` (env "+EnvBrokers+"; default "+DefaultBroker+")")
	fs.StringVar(&f.DataDir, "data-dir", "", "directory for node state (env "+EnvDataDir+"; default $XDG_STATE_HOME/edgeflow or ~/.local/state/edgeflow)")
	return f
}

// ResolveOption adjusts how ResolveNode finds defaults.
type ResolveOption func(*resolver)

type resolver struct {
	hostname func() (string, error)
	homeDir  func() (string, error)
}

// WithHostname replaces os.Hostname as the source of the default node id.
func WithHostname(f func() (string, error)) ResolveOption {
	return func(r *resolver) { r.hostname = f }
}

// WithHomeDir replaces os.UserHomeDir (used when $HOME is not set in the
// environment given to ResolveNode).
func WithHomeDir(f func() (string, error)) ResolveOption {
	return func(r *resolver) { r.homeDir = f }
}

// ResolveNode works out the node settings, each one from the first place that
// sets it: command-line flags, then the environment (lookupEnv, normally
// os.LookupEnv; empty values count as unset), then the node file (--node-file or
// EDGEFLOW_NODE_FILE), then the defaults. Labels and brokers are taken whole
// from one place, not merged. flags may be nil.
func ResolveNode(flags *NodeFlags, lookupEnv func(string) (string, bool), opts ...ResolveOption) (stages.Node, error) {
	s, err := ResolveSettings(flags, lookupEnv, opts...)
	if err != nil {
		return stages.Node{}, err
	}
	return s.Node(), nil
}

// ResolveSettings is ResolveNode returning the NodeSettings.
func ResolveSettings(flags *NodeFlags, lookupEnv func(string) (string, bool), opts ...ResolveOption) (NodeSettings, error) {
	r := resolver{hostname: os.Hostname, homeDir: os.UserHomeDir}
	for _, o := range opts {
		o(&r)
	}
	if flags == nil {
		flags = &NodeFlags{}
	}
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	env := func(key string) string {
		v, _ := lookupEnv(key)
		return strings.TrimSpace(v)
	}

	// Lowest layer first: the node file, then the environment, then flags.
	var s NodeSettings
	file := first(flags.NodeFile, env(EnvNodeFile))
	if file != "" {
		fs, err := LoadNodeFile(file)
		if err != nil {
			return NodeSettings{}, err
		}
		s = fs
	}
	var errs []error
	applyLayer(&s, &errs, envName,
		env(EnvNodeID), env(EnvNodeLabels), env(EnvBrokers), env(EnvDataDir))
	applyLayer(&s, &errs, flagName,
		flags.ID, flags.Labels, flags.Brokers, flags.DataDir)
	if len(errs) > 0 {
		return NodeSettings{}, errors.Join(errs...)
	}

	// Defaults.
	if s.ID == "" {
		h, err := r.hostname()
		if err != nil || h == "" {
			return NodeSettings{}, fmt.Errorf("node id: not set (--node-id, %s or id: in the node file) and the host name is unknown: %v", EnvNodeID, err)
		}
		s.ID = sanitizeID(h)
	}
	if len(s.Brokers) == 0 {
		s.Brokers = []string{DefaultBroker}
	}
	home := env("HOME")
	if home == "" {
		home, _ = r.homeDir()
	}
	if s.DataDir == "" {
		if x := env("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
			s.DataDir = filepath.Join(x, "edgeflow")
		} else if home != "" {
			s.DataDir = filepath.Join(home, ".local", "state", "edgeflow")
		} else {
			return NodeSettings{}, fmt.Errorf("data dir: not set (--data-dir, %s or data_dir: in the node file) and neither $XDG_STATE_HOME nor the home directory is known", EnvDataDir)
		}
	} else if rest, ok := strings.CutPrefix(s.DataDir, "~/"); ok && home != "" {
		s.DataDir = filepath.Join(home, rest)
	}
	if err := s.Validate(); err != nil {
		return NodeSettings{}, err
	}
	return s, nil
}

// applyLayer overrides s with the non-empty values of one layer; name(key) says
// where a value came from, for errors.
func applyLayer(s *NodeSettings, errs *[]error, name func(key string) string, id, labels, brokers, dataDir string) {
	if id != "" {
		if err := ValidateID(id); err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %w", name("id"), err))
		}
		s.ID = id
	}
	if labels != "" {
		l, err := ParseLabels(labels)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %w", name("labels"), err))
		}
		s.Labels = l
	}
	if brokers != "" {
		b := splitList(brokers)
		for _, addr := range b {
			if err := ValidateBroker(addr); err != nil {
				*errs = append(*errs, fmt.Errorf("%s: %w", name("brokers"), err))
			}
		}
		s.Brokers = b
	}
	if dataDir != "" {
		s.DataDir = dataDir
	}
}

func envName(key string) string {
	switch key {
	case "id":
		return EnvNodeID
	case "labels":
		return EnvNodeLabels
	case "brokers":
		return EnvBrokers
	}
	return EnvDataDir
}

func flagName(key string) string {
	switch key {
	case "id":
		return "--node-id"
	case "labels":
		return "--labels"
	case "brokers":
		return "--brokers"
	}
	return "--data-dir"
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

var (
	labelPattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$`)
	notIDChars   = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
)

// sanitizeID turns a host name into a valid node id.
func sanitizeID(h string) string {
	h = strings.Trim(notIDChars.ReplaceAllString(h, "-"), "-._")
	if h == "" {
		return "edge"
	}
	return h
}

// ValidateID checks a node id: letters, digits, '.', '_' and '-', starting with
// a letter or digit, at most 253 characters.
func ValidateID(id string) error {
	return fleet.ValidateNodeID(id)
}

// ValidateBroker checks a host:port address.
func ValidateBroker(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("broker %q: want host:port", addr)
	}
	if host == "" {
		return fmt.Errorf("broker %q: empty host", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("broker %q: port %q is not a number from 1 to 65535", addr, port)
	}
	return nil
}

// ParseLabels parses "k=v,k=v". Keys are letters, digits, '.', '_', '/' and '-';
// values may be empty. A key given twice is an error.
func ParseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("label %q: want key=value", part)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if err := validateLabel(k, v); err != nil {
			return nil, err
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("label %q given twice", k)
		}
		out[k] = v
	}
	return out, nil
}

func validateLabel(k, v string) error {
	if !labelPattern.MatchString(k) {
		return fmt.Errorf("label key %q: want letters, digits, '.', '_', '/' or '-'", k)
	}
	if strings.ContainsAny(v, ",=") {
		return fmt.Errorf("label %s: value %q may not contain ',' or '='", k, v)
	}
	return nil
}

// FormatLabels spells labels as ParseLabels reads them, keys sorted.
func FormatLabels(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + labels[k])
	}
	return b.String()
}

// Validate checks every set field.
func (s NodeSettings) Validate() error {
	var errs []error
	if s.ID != "" {
		if err := ValidateID(s.ID); err != nil {
			errs = append(errs, err)
		}
	}
	for k, v := range s.Labels {
		if err := validateLabel(k, v); err != nil {
			errs = append(errs, err)
		}
	}
	for _, b := range s.Brokers {
		if err := ValidateBroker(b); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.Telemetry.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("telemetry: %w", err))
	}
	return errors.Join(errs...)
}

// LoadNodeFile reads a node file: YAML with the keys of NodeSettings and no
// others. Errors name the file and line.
func LoadNodeFile(path string) (NodeSettings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return NodeSettings{}, fmt.Errorf("node file: %w", err)
	}
	return ParseNodeFile(path, data)
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// ParseNodeFile parses the contents of a node file; name is used in errors.
func ParseNodeFile(name string, data []byte) (NodeSettings, error) {
	var s NodeSettings
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return NodeSettings{}, locateYAMLError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		line := extra.Line
		if len(extra.Content) > 0 {
			line = extra.Content[0].Line
		}
		return NodeSettings{}, fmt.Errorf("%s:%d: a node file holds one YAML document", name, line)
	}
	// Validate field by field to point at the line of the bad value.
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	// lineOf finds the line of the value of key, or of its element sub (a list
	// index or a map key) when sub is not "".
	lineOf := func(key, sub string) int {
		n := &root
		if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
			n = n.Content[0]
		}
		if n.Kind != yaml.MappingNode {
			return 0
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value != key {
				continue
			}
			v := n.Content[i+1]
			switch {
			case sub == "":
			case v.Kind == yaml.SequenceNode:
				if j, err := strconv.Atoi(sub); err == nil && j < len(v.Content) {
					return v.Content[j].Line
				}
			case v.Kind == yaml.MappingNode:
				for j := 0; j+1 < len(v.Content); j += 2 {
					if v.Content[j].Value == sub {
						return v.Content[j].Line
					}
				}
			}
			return v.Line
		}
		return 0
	}
	at := func(key, sub string, err error) error {
		if l := lineOf(key, sub); l > 0 {
			return fmt.Errorf("%s:%d: %s: %w", name, l, key, err)
		}
		return fmt.Errorf("%s: %s: %w", name, key, err)
	}
	var errs []error
	if s.ID != "" {
		if err := ValidateID(s.ID); err != nil {
			errs = append(errs, at("id", "", err))
		}
	}
	keys := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := validateLabel(k, s.Labels[k]); err != nil {
			errs = append(errs, at("labels", k, err))
		}
	}
	for i, b := range s.Brokers {
		if err := ValidateBroker(b); err != nil {
			errs = append(errs, at("brokers", strconv.Itoa(i), err))
		}
	}
	if len(errs) > 0 {
		return NodeSettings{}, errors.Join(errs...)
	}
	return s, nil
}

// locateYAMLError rewrites the YAML library's "line N: message" errors as
// "file:N: message", one per line.
func locateYAMLError(name string, err error) error {
	var te *yaml.TypeError
	var msgs []string
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var errs []error
	for _, m := range msgs {
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			errs = append(errs, fmt.Errorf("%s:%s: %s", name, sm[1], sm[2]))
		} else {
			errs = append(errs, fmt.Errorf("%s: %s", name, strings.TrimPrefix(m, "yaml: ")))
		}
	}
	return errors.Join(errs...)
}
