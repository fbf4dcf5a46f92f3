package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
)

// Heartbeat defaults; docs/configuration.md and docs/topics.md describe them.
const (
	DefaultHeartbeatInterval = 5 * time.Second
	DefaultHeartbeatTopic    = "edgeflow.heartbeats"
	// HeartbeatSchemaVersion is the "schema" field of heartbeats this build
	// writes; readers reject greater versions.
	HeartbeatSchemaVersion = 1
	// HeartbeatContentType is the content-type header of heartbeat records.
	HeartbeatContentType = "application/vnd.edgeflow.heartbeat+json; version=1"
)

// HeartbeatSettings are the node file's heartbeat section.
type HeartbeatSettings struct {
	// Interval between heartbeats (default 5s); 0 in a flag turns them off.
	Interval time.Duration `yaml:"interval,omitempty"`
	// Topic the heartbeats go to (default edgeflow.heartbeats).
	Topic string `yaml:"topic,omitempty"`
	// Accelerators lists the node's accelerator devices; none are detected.
	Accelerators []Accelerator `yaml:"accelerators,omitempty"`
}

// Accelerator is one kind of accelerator device on a node.
type Accelerator struct {
	Kind  string `yaml:"kind" json:"kind"`   // "npu", "gpu", "tpu"
	Count int64  `yaml:"count" json:"count"` // devices of that kind
	Free  *int64 `yaml:"free,omitempty" json:"free,omitempty"`
}

// HeartbeatResources is an amount of each resource in a heartbeat.
type HeartbeatResources struct {
	MilliCPU     int64 `json:"milli_cpu"`
	MemoryBytes  int64 `json:"memory_bytes"`
	DiskBytes    int64 `json:"disk_bytes"`
	Accelerators int64 `json:"accelerators"`
}

// Heartbeat is the JSON record an edge node publishes every interval, keyed by
// its id. docs/topics.md documents each field.
type Heartbeat struct {
	Schema   int               `json:"schema"`
	NodeID   string            `json:"node_id"`
	Labels   map[string]string `json:"labels,omitempty"`
	Version  string            `json:"version"`
	Time     time.Time         `json:"time"`
	Sequence uint64            `json:"seq"`
	// IntervalMillis is the node's heartbeat interval, so a reader can pick a
	// timeout without being told.
	IntervalMillis int64              `json:"interval_ms"`
	Capacity       HeartbeatResources `json:"capacity"`
	Free           HeartbeatResources `json:"free"`
	Accelerators   []Accelerator      `json:"accelerators,omitempty"`
	Pipelines      []string           `json:"pipelines"`
	// Stopping is true in the last heartbeat of a node shutting down cleanly.
	Stopping bool `json:"stopping,omitempty"`
}

// ErrInvalidHeartbeat is wrapped by every error of DecodeHeartbeat.
var ErrInvalidHeartbeat = errors.New("invalid heartbeat")

// DecodeHeartbeat parses and checks one heartbeat record. Unknown fields are
// ignored (newer minor additions); a newer schema is an error.
func DecodeHeartbeat(data []byte) (Heartbeat, error) {
	var hb Heartbeat
	if err := json.Unmarshal(data, &hb); err != nil {
		return Heartbeat{}, fmt.Errorf("heartbeat: %w: %w", err, ErrInvalidHeartbeat)
	}
	if err := hb.Validate(); err != nil {
		return Heartbeat{}, err
	}
	return hb, nil
}

// Validate names the first wrong field.
func (hb *Heartbeat) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("heartbeat %s: %s: %s: %w", hb.NodeID, field, fmt.Sprintf(format, args...), ErrInvalidHeartbeat)
	}
	switch {
	case hb.Schema < 1 || hb.Schema > HeartbeatSchemaVersion:
		return bad("schema", "version %d, this build reads 1 to %d", hb.Schema, HeartbeatSchemaVersion)
	case ValidateID(hb.NodeID) != nil:
		return bad("node_id", "%v", ValidateID(hb.NodeID))
	case hb.Time.IsZero():
		return bad("time", "missing")
	case hb.IntervalMillis < 0:
		return bad("interval_ms", "negative")
	}
	for _, r := range []struct {
		name string
		v    HeartbeatResources
	}{{"capacity", hb.Capacity}, {"free", hb.Free}} {
		if r.v.MilliCPU < 0 || r.v.MemoryBytes < 0 || r.v.DiskBytes < 0 || r.v.Accelerators < 0 {
			return bad(r.name, "negative amount %+v", r.v)
		}
	}
	for i, a := range hb.Accelerators {
		if a.Kind == "" || a.Count < 0 || (a.Free != nil && (*a.Free < 0 || *a.Free > a.Count)) {
			return bad(fmt.Sprintf("accelerators[%d]", i), "want a kind, a count >= 0 and 0 <= free <= count")
		}
	}
	for i, p := range hb.Pipelines {
		if p == "" {
			return bad(fmt.Sprintf("pipelines[%d]", i), "empty name")
		}
	}
	return nil
}

// ResourceSampler measures a node's capacity and free resources. CPU free is
// the idle share since the previous Sample (since boot on the first).
type ResourceSampler struct {
	// Root is prefixed to /proc and /sys paths ("" or "/" for the real ones).
	Root string
	// DataDir is the directory whose file system is reported as disk.
	DataDir string
	// Accelerators are reported as they are configured.
	Accelerators []Accelerator

	mu   sync.Mutex
	prev CPUTimes
}

// Sample returns capacity and free resources now. A resource that cannot be
// read is reported as zero and named in the error; the rest are still filled.
func (s *ResourceSampler) Sample() (capacity, free HeartbeatResources, err error) {
	root := s.Root
	if root == "" {
		root = "/"
	}
	var errs []error
	times, cpuCap, err := readCPU(root)
	if err != nil {
		errs = append(errs, err)
	} else {
		s.mu.Lock()
		capacity.MilliCPU, free.MilliCPU = cpuCap, FreeMilliCPU(s.prev, times, cpuCap)
		s.prev = times
		s.mu.Unlock()
	}
	if capacity.MemoryBytes, free.MemoryBytes, err = readMemory(root); err != nil {
		errs = append(errs, err)
	}
	if s.DataDir != "" {
		if capacity.DiskBytes, free.DiskBytes, err = readDisk(s.DataDir); err != nil {
			errs = append(errs, err)
		}
	}
	for _, a := range s.Accelerators {
		capacity.Accelerators += a.Count
		if a.Free != nil {
			free.Accelerators += *a.Free
		} else {
			free.Accelerators += a.Count
		}
	}
	return capacity, free, errors.Join(errs...)
}

// HeartbeatConfig configures a Heartbeater. NodeID and Publisher are required.
type HeartbeatConfig struct {
	NodeID   string
	Labels   map[string]string
	Version  string
	Interval time.Duration // default 5s
	Topic    string        // default edgeflow.heartbeats
	// Publisher sends the records (bounded by the context when it has
	// PublishContext, as kafkabus.Publisher does); its key function should key them by the
	// metadata edgeflow-node (HeartbeatKey does).
	Publisher message.Publisher
	// Sampler measures resources (default: a ResourceSampler of the real /proc).
	Sampler interface {
		Sample() (capacity, free HeartbeatResources, err error)
	}
	// Pipelines lists the running pipelines (default: none), e.g. Runtime.Running.
	Pipelines func() []string
	// Accelerators are copied into every heartbeat.
	Accelerators []Accelerator
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Heartbeater publishes a node's heartbeat every interval.
type Heartbeater struct {
	cfg HeartbeatConfig
	seq uint64
	// sampleErr remembers the last sampling error, logged once per change.
	sampleErr string
}

// NewHeartbeater checks cfg and fills defaults.
func NewHeartbeater(cfg HeartbeatConfig) (*Heartbeater, error) {
	if err := ValidateID(cfg.NodeID); err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	if cfg.Publisher == nil {
		return nil, errors.New("heartbeat: no publisher")
	}
	if cfg.Interval < 0 {
		return nil, fmt.Errorf("heartbeat: interval %v is negative", cfg.Interval)
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultHeartbeatInterval
	}
	if cfg.Topic == "" {
		cfg.Topic = DefaultHeartbeatTopic
	}
	if cfg.Sampler == nil {
		cfg.Sampler = &ResourceSampler{Accelerators: cfg.Accelerators}
	}
	if cfg.Pipelines == nil {
		cfg.Pipelines = func() []string { return nil }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Labels = maps.Clone(cfg.Labels)
	return &Heartbeater{cfg: cfg}, nil
}

// Next builds the next heartbeat (and advances the sequence) without sending it.
func (h *Heartbeater) Next() Heartbeat {
	capacity, free, err := h.cfg.Sampler.Sample()
	if msg := errString(err); msg != h.sampleErr {
		h.sampleErr = msg
		if err != nil {
			h.cfg.Logger.Warn("heartbeat: measuring resources", "error", err)
		}
	}
	h.seq++
	pipes := slices.Clone(h.cfg.Pipelines())
	slices.Sort(pipes)
	if pipes == nil {
		pipes = []string{}
	}
	return Heartbeat{
		Schema: HeartbeatSchemaVersion, NodeID: h.cfg.NodeID, Labels: h.cfg.Labels, Version: h.cfg.Version,
		Time: h.cfg.Now().UTC(), Sequence: h.seq, IntervalMillis: h.cfg.Interval.Milliseconds(),
		Capacity: capacity, Free: free, Accelerators: h.cfg.Accelerators, Pipelines: pipes,
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Publish sends one heartbeat.
func (h *Heartbeater) Publish(ctx context.Context, hb Heartbeat) error {
	data, err := json.Marshal(hb)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	msg := message.NewMessage(watermill.NewUUID(), data)
	msg.SetContext(ctx)
	msg.Metadata.Set("edgeflow-node", hb.NodeID)
	msg.Metadata.Set("content-type", HeartbeatContentType)
	if pc, ok := h.cfg.Publisher.(interface {
		PublishContext(context.Context, string, ...*message.Message) error
	}); ok {
		err = pc.PublishContext(ctx, h.cfg.Topic, msg)
	} else {
		err = h.cfg.Publisher.Publish(h.cfg.Topic, msg)
	}
	if err != nil {
		return fmt.Errorf("heartbeat to %s: %w", h.cfg.Topic, err)
	}
	return nil
}

// Run publishes a heartbeat at once and then every interval until ctx ends,
// then a last one marked stopping (bounded by one interval, at most 2s). Failed publishes
// are logged and retried at the next tick; Run returns nil when ctx ends.
func (h *Heartbeater) Run(ctx context.Context) error {
	t := time.NewTicker(h.cfg.Interval)
	defer t.Stop()
	for {
		if err := h.Publish(ctx, h.Next()); err != nil && ctx.Err() == nil {
			h.cfg.Logger.Warn("heartbeat not sent", "error", err)
		}
		select {
		case <-ctx.Done():
			last := h.Next()
			last.Stopping = true
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(h.cfg.Interval, 2*time.Second))
			defer cancel()
			if err := h.Publish(stopCtx, last); err != nil {
				h.cfg.Logger.Debug("last heartbeat not sent", "error", err)
			}
			return nil
		case <-t.C:
		}
	}
}

// HeartbeatTopicConfig is the topic-level configuration of a heartbeat topic
// the node creates: compacted, so the topic keeps each node's latest.
var HeartbeatTopicConfig = map[string]string{"cleanup.policy": "compact"}

// HeartbeatKey is a kafkabus KeyFunc for heartbeats: the node id from the
// edgeflow-node metadata, so a compacted topic keeps each node's latest.
func HeartbeatKey(_ string, msg *message.Message) []byte {
	if id := msg.Metadata.Get("edgeflow-node"); id != "" {
		return []byte(id)
	}
	return nil
}

// Validate checks the heartbeat section of a node file.
func (s HeartbeatSettings) Validate() error {
	var errs []error
	if s.Interval < 0 {
		errs = append(errs, fmt.Errorf("heartbeat.interval: %v is negative", s.Interval))
	}
	for i, a := range s.Accelerators {
		if a.Kind == "" || a.Count < 0 || (a.Free != nil && (*a.Free < 0 || *a.Free > a.Count)) {
			errs = append(errs, fmt.Errorf("heartbeat.accelerators[%d]: want a kind, a count >= 0 and 0 <= free <= count", i))
		}
	}
	return errors.Join(errs...)
}

// RuntimePipelines returns a Pipelines function for HeartbeatConfig listing
// the pipelines rt runs.
func RuntimePipelines(rt *Runtime) func() []string {
	return func() []string {
		var names []string
		for _, st := range rt.Stats() {
			names = append(names, st.Pipeline)
		}
		return names
	}
}

// Environment variables of the heartbeat settings.
const (
	EnvHeartbeatInterval = "EDGEFLOW_HEARTBEAT_INTERVAL"
	EnvHeartbeatTopic    = "EDGEFLOW_HEARTBEAT_TOPIC"
)

// ResolveHeartbeat layers the heartbeat settings like ResolveSettings does:
// flags (empty: unset), then the environment, then the node file's section,
// then the defaults. An interval of 0 turns heartbeats off (enabled false).
func ResolveHeartbeat(file HeartbeatSettings, lookupEnv func(string) (string, bool), flagInterval, flagTopic string) (s HeartbeatSettings, enabled bool, err error) {
	s = file
	env := func(key string) string {
		if lookupEnv == nil {
			return ""
		}
		v, _ := lookupEnv(key)
		return strings.TrimSpace(v)
	}
	for _, layer := range []struct{ where, interval, topic string }{
		{EnvHeartbeatInterval, env(EnvHeartbeatInterval), env(EnvHeartbeatTopic)},
		{"--heartbeat-interval", flagInterval, flagTopic},
	} {
		if layer.interval != "" {
			d, err := time.ParseDuration(layer.interval)
			if err != nil || d < 0 {
				return HeartbeatSettings{}, false, fmt.Errorf("%s: %q is not a duration >= 0 such as 5s", layer.where, layer.interval)
			}
			if d == 0 {
				return s, false, nil
			}
			s.Interval = d
		}
		if layer.topic != "" {
			s.Topic = layer.topic
		}
	}
	if s.Interval == 0 {
		s.Interval = DefaultHeartbeatInterval
	}
	if s.Topic == "" {
		s.Topic = DefaultHeartbeatTopic
	}
	if err := s.Validate(); err != nil {
		return HeartbeatSettings{}, false, err
	}
	return s, true, nil
}
