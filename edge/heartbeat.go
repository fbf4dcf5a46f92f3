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
	"github.com/edgeflow/edgeflow/internal/fleet"
)

// Heartbeat defaults; docs/configuration.md and docs/topics.md describe them.
const (
	DefaultHeartbeatInterval = fleet.DefaultHeartbeatInterval
	DefaultHeartbeatTopic    = fleet.HeartbeatTopic
)

// HeartbeatSettings are the node file's heartbeat section.
type HeartbeatSettings struct {
	// Interval between heartbeats (default 5s); 0 in a flag turns them off.
	Interval time.Duration `yaml:"interval,omitempty"`
	// Topic the heartbeats go to (default edgeflow.heartbeats).
	Topic string `yaml:"topic,omitempty"`
	// Accelerators lists the node's accelerator devices; none are detected.
	Accelerators []fleet.Accelerator `yaml:"accelerators,omitempty"`
}

// ResourceSampler measures a node's capacity and free resources. CPU free is
// the idle share since the previous Sample (since boot on the first).
type ResourceSampler struct {
	// Root is prefixed to /proc and /sys paths ("" or "/" for the real ones).
	Root string
	// DataDir is the directory whose file system is reported as disk.
	DataDir string
	// Accelerators are reported as they are configured.
	Accelerators []fleet.Accelerator

	mu   sync.Mutex
	prev CPUTimes
}

// Sample returns capacity and free resources now. A resource that cannot be
// read is reported as zero and named in the error; the rest are still filled.
func (s *ResourceSampler) Sample() (capacity, free fleet.HeartbeatResources, err error) {
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
		Sample() (capacity, free fleet.HeartbeatResources, err error)
	}
	// Pipelines lists the running pipelines (default: none), e.g. Runtime.Running.
	Pipelines func() []string
	// Accelerators are copied into every heartbeat.
	Accelerators []fleet.Accelerator
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
func (h *Heartbeater) Next() fleet.Heartbeat {
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
	return fleet.Heartbeat{
		Schema: fleet.HeartbeatSchemaVersion, NodeID: h.cfg.NodeID, Labels: h.cfg.Labels, Version: h.cfg.Version,
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
func (h *Heartbeater) Publish(ctx context.Context, hb fleet.Heartbeat) error {
	data, err := json.Marshal(hb)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	msg := message.NewMessage(watermill.NewUUID(), data)
	msg.SetContext(ctx)
	msg.Metadata.Set(fleet.MetaNode, hb.NodeID)
	msg.Metadata.Set("content-type", fleet.HeartbeatContentType)
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
var HeartbeatTopicConfig = fleet.CompactedTopicConfig

// HeartbeatKey is a kafkabus KeyFunc for heartbeats: the node id from the
// edgeflow-node metadata, so a compacted topic keeps each node's latest.
func HeartbeatKey(topic string, msg *message.Message) []byte { return fleet.NodeKey(topic, msg) }

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
