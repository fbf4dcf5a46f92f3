package flkafka

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/internal/fl/model"
	"github.com/edgeflow/edgeflow/stages"
)

// Default topics and model name.
const (
	DefaultModelsTopic  = "edgeflow.fl.models"
	DefaultUpdatesTopic = "edgeflow.fl.updates"
	DefaultModelName    = "global"
)

// Record headers (watermill metadata) of models and updates.
const (
	// HeaderModel names the model (the record key of the models topic).
	HeaderModel = "edgeflow-fl-model"
	// HeaderRound is the round a global model opens, or an update belongs to.
	HeaderRound = "edgeflow-fl-round"
	// HeaderVersion counts the aggregations folded into a global model (0: the
	// initial model).
	HeaderVersion = "edgeflow-fl-version"
	// HeaderSelected lists the nodes asked to train in the round, comma
	// separated; empty: nobody (the final model of a run).
	HeaderSelected = "edgeflow-fl-selected"
	// HeaderDeadline is when the round closes at the latest (RFC 3339 with
	// nanoseconds, UTC). Nodes do not start training for a round past it.
	HeaderDeadline = "edgeflow-fl-deadline"
)

// Payload kinds (metadata edgeflow-kind) of the records.
const (
	KindModel  = "fl-model"
	KindUpdate = "fl-update"
)

// ModelsTopicConfig is the topic-level configuration of a models topic created
// by edgeflow: compacted, so that the latest model of each name is kept.
var ModelsTopicConfig = map[string]string{"cleanup.policy": "compact"}

// ErrRecord is wrapped by the errors about a record that is not a global
// model or an update.
var ErrRecord = errors.New("flkafka: bad record")

// GlobalModel is one record of the models topic.
type GlobalModel struct {
	Name     string
	Round    uint64
	Version  uint64
	Selected []string // sorted
	Deadline time.Time
	Model    model.Model
}

// IsSelected reports whether node is asked to train in the round.
func (g *GlobalModel) IsSelected(node string) bool {
	_, ok := slices.BinarySearch(g.Selected, node)
	return ok
}

// Message encodes g as a record of the models topic (float32 values, no
// compression: every node decodes it as it is).
func (g *GlobalModel) Message() (*message.Message, error) {
	for i, s := range g.Selected {
		if s == "" || strings.Contains(s, ",") {
			return nil, fmt.Errorf("global model %q round %d: selected[%d] %q: empty or has a comma", g.Name, g.Round, i, s)
		}
	}
	u := &model.Update{Round: g.Round, Kind: model.KindWeights, Layout: g.Model.Layout, Params: g.Model.Params}
	payload, err := model.AppendUpdate(nil, u, model.EncodeOptions{})
	if err != nil {
		return nil, fmt.Errorf("global model %q round %d: %w", g.Name, g.Round, err)
	}
	msg := message.NewMessage(watermill.NewUUID(), payload)
	msg.Metadata.Set(stages.MetaKind, KindModel)
	msg.Metadata.Set(HeaderModel, g.Name)
	msg.Metadata.Set(HeaderRound, strconv.FormatUint(g.Round, 10))
	msg.Metadata.Set(HeaderVersion, strconv.FormatUint(g.Version, 10))
	msg.Metadata.Set(HeaderSelected, strings.Join(g.Selected, ","))
	msg.Metadata.Set(HeaderDeadline, g.Deadline.UTC().Format(time.RFC3339Nano))
	return msg, nil
}

// ParseGlobalModel decodes a record of the models topic. Errors name the
// header or the payload's field and wrap ErrRecord.
func ParseGlobalModel(msg *message.Message) (*GlobalModel, error) {
	g := &GlobalModel{Name: msg.Metadata.Get(HeaderModel)}
	if g.Name == "" {
		return nil, fmt.Errorf("%w: header %s missing", ErrRecord, HeaderModel)
	}
	var err error
	if g.Round, err = uintHeader(msg, HeaderRound); err != nil {
		return nil, err
	}
	if g.Version, err = uintHeader(msg, HeaderVersion); err != nil {
		return nil, err
	}
	if s := msg.Metadata.Get(HeaderSelected); s != "" {
		g.Selected = strings.Split(s, ",")
		slices.Sort(g.Selected)
	}
	if g.Deadline, err = time.Parse(time.RFC3339Nano, msg.Metadata.Get(HeaderDeadline)); err != nil {
		return nil, fmt.Errorf("%w: header %s: %v", ErrRecord, HeaderDeadline, err)
	}
	u, err := model.DecodeUpdate(msg.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: model %q round %d: %w", ErrRecord, g.Name, g.Round, err)
	}
	if u.Kind != model.KindWeights {
		return nil, fmt.Errorf("%w: model %q round %d: payload of kind %s, want weights", ErrRecord, g.Name, g.Round, u.Kind)
	}
	if u.Round != g.Round {
		return nil, fmt.Errorf("%w: model %q: header round %d, payload round %d", ErrRecord, g.Name, g.Round, u.Round)
	}
	g.Model = model.Model{Layout: u.Layout, Params: u.Params}
	if err := g.Model.Check(); err != nil {
		return nil, fmt.Errorf("%w: model %q round %d: %w", ErrRecord, g.Name, g.Round, err)
	}
	return g, nil
}

func uintHeader(msg *message.Message, key string) (uint64, error) {
	v, err := strconv.ParseUint(msg.Metadata.Get(key), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: header %s %q: want an unsigned integer", ErrRecord, key, msg.Metadata.Get(key))
	}
	return v, nil
}

// UpdateMessage encodes u as a record of the updates topic for model name,
// keyed (node/stream) by the node and the model name.
func UpdateMessage(name string, u *model.Update, opts model.EncodeOptions) (*message.Message, error) {
	payload, err := model.AppendUpdate(nil, u, opts)
	if err != nil {
		return nil, fmt.Errorf("update of node %s round %d: %w", u.Node, u.Round, err)
	}
	msg := message.NewMessage(watermill.NewUUID(), payload)
	msg.Metadata.Set(stages.MetaKind, KindUpdate)
	msg.Metadata.Set(stages.MetaNode, u.Node)
	msg.Metadata.Set(stages.MetaStream, "fl."+name)
	msg.Metadata.Set(HeaderModel, name)
	msg.Metadata.Set(HeaderRound, strconv.FormatUint(u.Round, 10))
	return msg, nil
}

// ModelKey is the kafkabus.KeyFunc of the models topic: the model's name.
func ModelKey(_ string, msg *message.Message) []byte {
	return []byte(msg.Metadata.Get(HeaderModel))
}
