package flkafka

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/internal/fl/aggregate"
	"github.com/edgeflow/edgeflow/internal/fl/model"
)

func mlp(t *testing.T, seed uint64) model.Model {
	t.Helper()
	m, err := model.NewMLP(seed, 3, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGlobalModelRoundTrip(t *testing.T) {
	g := &GlobalModel{Name: "anomaly", Round: 7, Version: 6, Selected: []string{"edge-1", "edge-3"},
		Deadline: time.Date(2026, 11, 27, 1, 2, 3, 456789000, time.UTC), Model: mlp(t, 1)}
	msg, err := g.Message()
	if err != nil {
		t.Fatal(err)
	}
	if string(ModelKey("", msg)) != "anomaly" {
		t.Errorf("key %q, want the model name", ModelKey("", msg))
	}
	got, err := ParseGlobalModel(msg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != g.Name || got.Round != 7 || got.Version != 6 || !slices.Equal(got.Selected, g.Selected) ||
		!got.Deadline.Equal(g.Deadline) || !slices.Equal(got.Model.Params, g.Model.Params) || !got.Model.Layout.Equal(g.Model.Layout) {
		t.Errorf("round trip: %+v, want %+v", got, g)
	}
	if !got.IsSelected("edge-3") || got.IsSelected("edge-2") {
		t.Errorf("IsSelected wrong for %v", got.Selected)
	}
}

func TestParseGlobalModelErrors(t *testing.T) {
	good, err := (&GlobalModel{Name: "global", Round: 2, Version: 1, Deadline: time.Now(), Model: mlp(t, 1)}).Message()
	if err != nil {
		t.Fatal(err)
	}
	delta, err := model.AppendUpdate(nil, &model.Update{Round: 2, Kind: model.KindDelta, Layout: mlp(t, 1).Layout, Params: mlp(t, 1).Params}, model.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*message.Message)
	}{
		{"no name", func(m *message.Message) { m.Metadata.Set(HeaderModel, "") }},
		{"round not a number", func(m *message.Message) { m.Metadata.Set(HeaderRound, "two") }},
		{"version missing", func(m *message.Message) { m.Metadata.Set(HeaderVersion, "") }},
		{"bad deadline", func(m *message.Message) { m.Metadata.Set(HeaderDeadline, "tomorrow") }},
		{"header and payload rounds differ", func(m *message.Message) { m.Metadata.Set(HeaderRound, "3") }},
		{"payload cut short", func(m *message.Message) { m.Payload = m.Payload[:len(m.Payload)/2] }},
		{"a delta, not weights", func(m *message.Message) { m.Payload = delta }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := good.Copy()
			tc.edit(msg)
			if _, err := ParseGlobalModel(msg); !errors.Is(err, ErrRecord) {
				t.Errorf("error %v, want one wrapping ErrRecord", err)
			}
		})
	}
	if _, err := (&GlobalModel{Name: "global", Selected: []string{"a,b"}, Model: mlp(t, 1)}).Message(); err == nil {
		t.Errorf("a node name with a comma was encoded")
	}
}

// fakeNodes answers each broadcast with the selected nodes' updates, as the
// train stage would, over a channel standing for the updates topic.
type fakeNodes struct {
	t       *testing.T
	mu      sync.Mutex
	updates chan *message.Message
	models  []*GlobalModel
	skip    string // never answers
}

func (f *fakeNodes) PublishContext(ctx context.Context, topic string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		g, err := ParseGlobalModel(msg)
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.models = append(f.models, g)
		f.mu.Unlock()
		for i, node := range g.Selected {
			if node == f.skip {
				continue
			}
			delta := make([]float32, len(g.Model.Params))
			for j := range delta {
				delta[j] = 0.01 * float32(i+1)
			}
			u := &model.Update{Round: g.Round, Node: node, Examples: uint64(10 * (i + 1)), Kind: model.KindDelta,
				Layout: g.Model.Layout, Params: delta}
			m, err := UpdateMessage(g.Name, u, model.EncodeOptions{Quantization: model.Float16})
			if err != nil {
				return err
			}
			go func() { f.updates <- m }()
		}
	}
	return nil
}

func TestTransportRunsRounds(t *testing.T) {
	nodes := &fakeNodes{t: t, updates: make(chan *message.Message), skip: "edge-4"}
	tr, err := NewTransport(TransportConfig{Name: "global", Publisher: nodes, Updates: nodes.updates,
		RoundTimeout: 300 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	coord := aggregate.Coordinator{Sampling: aggregate.Sampling{Fraction: 1, Min: 1}, Policy: aggregate.RoundPolicy{Quorum: 3, Timeout: 300 * time.Millisecond}}
	clients := []string{"edge-1", "edge-2", "edge-3", "edge-4"}
	global := mlp(t, 1)
	ctx := context.Background()
	for round := uint64(1); round <= 2; round++ {
		res, stats, err := coord.RunRound(ctx, tr, round, clients, global)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if stats.Accepted != 3 || !slices.Equal(res.Used, clients[:3]) {
			t.Errorf("round %d: accepted %d, used %v", round, stats.Accepted, res.Used)
		}
		global = res.Model
		tr.SetVersion(round)
	}
	// A record of another model and a malformed one are skipped.
	other, _ := UpdateMessage("other", &model.Update{Round: 3, Node: "edge-1", Kind: model.KindDelta, Layout: global.Layout, Params: global.Params}, model.EncodeOptions{})
	bad := message.NewMessage("bad", []byte("not an update"))
	go func() { nodes.updates <- other; nodes.updates <- bad }()
	for range 2 {
		if u, err := tr.Receive(ctx); u != nil || err != nil {
			t.Errorf("Receive: %v, %v; want nothing", u, err)
		}
	}
	if tr.Malformed() != 1 {
		t.Errorf("malformed %d, want 1", tr.Malformed())
	}
	nodes.mu.Lock()
	defer nodes.mu.Unlock()
	if len(nodes.models) != 2 || nodes.models[0].Version != 0 || nodes.models[1].Version != 1 || nodes.models[1].Round != 2 {
		t.Errorf("broadcasts %d; want rounds 1 and 2 with versions 0 and 1", len(nodes.models))
	}
	if left := time.Until(nodes.models[1].Deadline); left > 300*time.Millisecond {
		t.Errorf("deadline %v ahead, want at most the round timeout", left)
	}
}

func TestBrokers(t *testing.T) {
	tests := []struct {
		name             string
		configured, node []string
		want             []string
		wantErr          bool
	}{
		{"configured first", []string{"a:1"}, []string{"b:2"}, []string{"a:1"}, false},
		{"the node's", nil, []string{"b:2"}, []string{"b:2"}, false},
		{"none", nil, nil, nil, true},
		{"node's malformed", nil, []string{"b"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Brokers(tc.configured, tc.node)
			if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
				t.Errorf("Brokers = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
