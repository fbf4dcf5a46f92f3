package mqtt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
)

func init() {
	stages.RegisterSource(stages.Info{
		ID:      "mqtt",
		Summary: "Subscribes to MQTT topics and turns their payloads into readings; acknowledges after the pipeline did.",
		Description: `Connects to an MQTT broker (MQTT 5, reconnecting with backoff), subscribes to topics and
turns every message into one pipeline message of kind readings. A payload is a JSON reading
object, a JSON array of them or JSON lines (see the reading format; "values" objects expand to
one reading per field), or a bare number such as 21.5, which becomes one reading timed at
arrival.

Readings without a stream take it from the topic through stream_template: {topic} is the whole
topic, {last} its last level, {1}, {2}, … its levels counted from 1. node_template does the same
for the node (empty: the edge node's id).

With QoS 1 or 2 the acknowledgement (PUBACK) goes to the broker only after the pipeline
acknowledged the message; a nacked message is retried after a short backoff. The session
(client_id, session_expiry) outlives reconnects, so messages published while the connection is
down are delivered later; messages on topics the configuration no longer lists (subscriptions
an earlier configuration left in the session) are acknowledged and dropped. A payload that does
not parse is logged with its topic, sent to the pipeline's dead_letter: sink (dropped without
one) and then acknowledged, so the broker does not redeliver it forever.`,
		Produces: []string{stages.KindReadings},
		Examples: []stages.Example{
			{Title: "Sensors publishing JSON readings on sensors/<room>/<quantity>", YAML: `type: mqtt
url: tcp://127.0.0.1:1883
topics: [sensors/#]
stream_template: "{2}.{3}"`},
			{Title: "Devices publishing bare numbers on site/<device>/<quantity>", YAML: `type: mqtt
url: tcp://broker.local:1883
topics: [site/+/temperature, site/+/humidity]
qos: 1
client_id: edgeflow-gw-1
node_template: "{2}"
stream_template: "{last}"`},
		},
	}, defaultConfig, build)
}

// Config configures the mqtt source.
type Config struct {
	URL            string        `yaml:"url" doc:"Broker URL: tcp:// (or mqtt://), tls:// (or ssl://, mqtts://) or ws://." example:"tcp://broker.local:1883"`
	Topics         []string      `yaml:"topics" doc:"Topic filters to subscribe to; + and # wildcards allowed." required:"true" example:"[sensors/#]"`
	QoS            int           `yaml:"qos" doc:"Subscription QoS: 0 at most once, 1 at least once (acknowledged after the pipeline), 2 exactly once on the broker side."`
	ClientID       string        `yaml:"client_id" doc:"MQTT client id; must be unique on the broker. Empty: edgeflow-<node>-<pipeline>." example:"edgeflow-gw-1"`
	Username       string        `yaml:"username" doc:"User name for the broker, if it wants one."`
	Password       string        `yaml:"password" doc:"Password for the broker, if it wants one."`
	StreamTemplate string        `yaml:"stream_template" doc:"Stream of readings that name none, from the topic: {topic}, {last} or a level {1}, {2}, …" example:"{2}.{3}"`
	NodeTemplate   string        `yaml:"node_template" doc:"Node of readings that name none, from the topic like stream_template. Empty: the edge node's id." example:"{2}"`
	MaxInFlight    int           `yaml:"max_in_flight" doc:"Messages the broker may send before the pipeline acknowledged earlier ones (MQTT receive maximum)."`
	SessionExpiry  time.Duration `yaml:"session_expiry" doc:"How long the broker keeps the session (subscriptions, unacknowledged and queued messages) while disconnected."`
	KeepAlive      time.Duration `yaml:"keep_alive" doc:"MQTT keep-alive interval."`
}

func defaultConfig() *Config {
	return &Config{URL: "tcp://127.0.0.1:1883", QoS: 1, StreamTemplate: "{last}", MaxInFlight: 100,
		SessionExpiry: time.Hour, KeepAlive: 30 * time.Second}
}

// Validate checks the config and names the bad field.
func (c *Config) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" {
		return stages.FieldErrorf("url", "url %q is not a broker URL like tcp://127.0.0.1:1883", c.URL)
	}
	if !slices.Contains([]string{"tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss"}, u.Scheme) {
		return stages.FieldErrorf("url", "url scheme %q unsupported (want tcp, mqtt, tls, ssl, mqtts, ws or wss)", u.Scheme)
	}
	if len(c.Topics) == 0 {
		return stages.FieldErrorf("topics", "no topics: list at least one topic filter")
	}
	for i, t := range c.Topics {
		if err := checkFilter(t); err != nil {
			return stages.FieldErrorf(fmt.Sprintf("topics[%d]", i), "%w", err)
		}
	}
	if c.QoS < 0 || c.QoS > 2 {
		return stages.FieldErrorf("qos", "qos %d must be 0, 1 or 2", c.QoS)
	}
	if err := checkTemplate(c.StreamTemplate); err != nil {
		return stages.FieldErrorf("stream_template", "%w", err)
	}
	if err := checkTemplate(c.NodeTemplate); err != nil {
		return stages.FieldErrorf("node_template", "%w", err)
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 65535 {
		return stages.FieldErrorf("max_in_flight", "max_in_flight %d must be in 1..65535", c.MaxInFlight)
	}
	if c.SessionExpiry < 0 || c.SessionExpiry > 0xFFFFFFFE*time.Second {
		return stages.FieldErrorf("session_expiry", "session_expiry %v out of range", c.SessionExpiry)
	}
	if c.KeepAlive < 0 || c.KeepAlive > 65535*time.Second {
		return stages.FieldErrorf("keep_alive", "keep_alive %v must be in 0..65535s", c.KeepAlive)
	}
	return nil
}

// checkFilter checks an MQTT topic filter.
func checkFilter(f string) error {
	if f == "" {
		return errors.New("topic filter is empty")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return fmt.Errorf("topic filter %q: # must be a whole level and the last one", f)
		}
		if strings.Contains(l, "+") && l != "+" {
			return fmt.Errorf("topic filter %q: + must be a whole level", f)
		}
	}
	return nil
}

// Source is the mqtt source.
type Source struct {
	cfg      *Config
	node     string
	clientID string
	log      *slog.Logger
	env      stages.Env // for dead letters

	mu      sync.Mutex
	cancel  context.CancelFunc // cancels a running Read
	closed  bool
	skipped int64
}

func build(_ context.Context, cfg *Config, env stages.Env) (stages.Source, error) {
	id := cfg.ClientID
	if id == "" {
		id = "edgeflow-" + env.Node.ID + "-" + env.Pipeline
		id = strings.Trim(strings.ReplaceAll(id, "--", "-"), "-")
	}
	return &Source{cfg: cfg, node: env.Node.ID, clientID: id, log: env.Log(), env: env}, nil
}

// received is one PUBLISH waiting for the pipeline.
type received struct {
	pub    *paho.Publish
	client *paho.Client
	at     time.Time
}

// Read connects, subscribes and emits a message per MQTT message until ctx ends.
func (s *Source) Read(ctx context.Context, emit stages.EmitFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("mqtt source: read after close")
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.mu.Unlock()
	defer cancel()

	u, _ := url.Parse(s.cfg.URL)
	inbox := make(chan received, s.cfg.MaxInFlight*2)
	connCtx, stopConn := context.WithCancel(context.Background())
	defer stopConn()
	// Closed first on the way out, so a callback blocked on a full inbox gives up
	// (its message stays unacknowledged and is redelivered to the next session).
	stopReceiving := make(chan struct{})
	receiveMax := uint16(s.cfg.MaxInFlight)
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		KeepAlive:                     uint16(s.cfg.KeepAlive / time.Second),
		CleanStartOnInitialConnection: false,
		SessionExpiryInterval:         uint32(s.cfg.SessionExpiry / time.Second),
		ReconnectBackoff:              autopaho.NewExponentialBackoff(500*time.Millisecond, 30*time.Second, time.Second, 2),
		ConnectTimeout:                10 * time.Second,
		ConnectUsername:               s.cfg.Username,
		ConnectPassword:               []byte(s.cfg.Password),
		ConnectPacketBuilder: func(c *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			if c.Properties == nil {
				c.Properties = &paho.ConnectProperties{}
			}
			c.Properties.ReceiveMaximum = &receiveMax
			return c, nil
		},
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			subs := make([]paho.SubscribeOptions, len(s.cfg.Topics))
			for i, t := range s.cfg.Topics {
				subs[i] = paho.SubscribeOptions{Topic: t, QoS: byte(s.cfg.QoS)}
			}
			go func() { // must not block the callback
				sctx, cancel := context.WithTimeout(connCtx, 10*time.Second)
				defer cancel()
				ack, err := cm.Subscribe(sctx, &paho.Subscribe{Subscriptions: subs})
				if err != nil {
					s.log.Error("mqtt source: subscribe failed", "url", s.cfg.URL, "topics", s.cfg.Topics, "err", err)
					return
				}
				for i, code := range ack.Reasons {
					if code >= 0x80 && i < len(subs) {
						s.log.Error("mqtt source: subscription refused", "topic", subs[i].Topic, "reason", code)
					}
				}
				s.log.Info("mqtt source: subscribed", "url", s.cfg.URL, "topics", s.cfg.Topics, "client_id", s.clientID)
			}()
		},
		OnConnectError: func(err error) {
			s.log.Warn("mqtt source: cannot connect; retrying", "url", s.cfg.URL, "err", err)
		},
		ClientConfig: paho.ClientConfig{
			ClientID:                   s.clientID,
			EnableManualAcknowledgment: true,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) {
					select {
					case inbox <- received{pub: pr.Packet, client: pr.Client, at: time.Now()}:
						return true, nil
					case <-stopReceiving:
						return false, nil
					}
				},
			},
			OnClientError: func(err error) {
				s.log.Warn("mqtt source: connection error", "url", s.cfg.URL, "err", err)
			},
		},
	}
	cm, err := autopaho.NewConnection(connCtx, cfg)
	if err != nil {
		return fmt.Errorf("mqtt source: %w", err)
	}
	defer func() {
		close(stopReceiving)
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := cm.Disconnect(dctx); err != nil {
			stopConn()
		}
		<-cm.Done()
	}()

	var rs []reading.Reading
	// Many messages in flight: each is acknowledged (PUBACK) only once its
	// readings are written, which behind an encoder can take up to its max_age.
	// PUBACKs go out in the order the messages came, as MQTT wants. The window
	// stays under the receive maximum, beyond which the broker sends nothing.
	window := stages.NewWindow(ctx, emit, func(err error, wait time.Duration) {
		s.log.Warn("mqtt source: message nacked; retrying", "err", err, "wait", wait)
	})
	window.Bound(s.cfg.MaxInFlight - 1)
	for {
		var in received
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-window.Ready():
			if err := window.Collect(ctx); err != nil {
				return err // not acknowledged: the broker redelivers them
			}
			continue
		case in = <-inbox:
		}
		if !s.subscribed(in.pub.Topic) {
			// A subscription left in the broker's session by an earlier
			// configuration with the same client id: drop what it delivers.
			s.log.Debug("mqtt source: message on a topic no longer subscribed; dropped", "topic", in.pub.Topic)
			window.After(func() { s.ack(in) })
			continue
		}
		rs, err = s.parse(in, rs[:0])
		if err != nil {
			s.mu.Lock()
			s.skipped++
			s.mu.Unlock()
			s.log.Warn("mqtt source: payload skipped", "topic", in.pub.Topic, "err", err)
			if err := s.deadLetter(ctx, in, err); err != nil {
				return err // not acknowledged: the broker redelivers it
			}
			window.After(func() { s.ack(in) })
			continue
		}
		msg := reading.NewMessage(rs)
		copyTraceContext(in.pub, msg.Metadata)
		if err := window.Emit(ctx, msg, func() { s.ack(in) }); err != nil {
			return err // not acknowledged: the broker redelivers it
		}
	}
}

// traceProperties are the MQTT 5 user properties copied into message
// metadata: the W3C trace context of a publisher that traces what it sends,
// which the pipeline's tracing then continues.
var traceProperties = [...]string{"traceparent", "tracestate", "baggage"}

func copyTraceContext(p *paho.Publish, md map[string]string) {
	if p == nil || p.Properties == nil {
		return
	}
	for _, u := range p.Properties.User {
		if slices.Contains(traceProperties[:], u.Key) {
			md[u.Key] = u.Value
		}
	}
}

func (s *Source) ack(in received) {
	if in.pub.QoS == 0 || in.client == nil {
		return
	}
	if err := in.client.Ack(in.pub); err != nil {
		s.log.Warn("mqtt source: acknowledgement not sent (the broker will redeliver)", "topic", in.pub.Topic, "err", err)
	}
}

// subscribed reports whether topic matches one of the configured filters.
func (s *Source) subscribed(topic string) bool {
	for _, f := range s.cfg.Topics {
		if matchFilter(f, topic) {
			return true
		}
	}
	return false
}

// matchFilter reports whether an MQTT topic matches a topic filter.
func matchFilter(filter, topic string) bool {
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fl {
		switch {
		case f == "#":
			// Topics starting with $ match no wildcard at the first level.
			return i > 0 || !strings.HasPrefix(topic, "$")
		case i >= len(tl):
			return false
		case f == "+":
			if i == 0 && strings.HasPrefix(topic, "$") {
				return false
			}
		case f != tl[i]:
			return false
		}
	}
	return len(fl) == len(tl)
}

// Skipped is the number of payloads skipped because they did not parse.
func (s *Source) Skipped() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.skipped
}

// parse turns one MQTT message into readings.
func (s *Source) parse(in received, dst []reading.Reading) ([]reading.Reading, error) {
	opts := reading.JSONOptions{Node: s.node, Stream: expand(s.cfg.StreamTemplate, in.pub.Topic)}
	if s.cfg.NodeTemplate != "" {
		opts.Node = expand(s.cfg.NodeTemplate, in.pub.Topic)
	}
	return ParsePayload(in.pub.Payload, dst, opts, in.at)
}

// ParsePayload parses an MQTT payload: a bare number (timed at arrival), a JSON
// reading object or array, or JSON lines. opts fill in node and stream.
func ParsePayload(payload []byte, dst []reading.Reading, opts reading.JSONOptions, arrival time.Time) ([]reading.Reading, error) {
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 {
		return dst, errors.New("payload is empty")
	}
	if c := trimmed[0]; c != '{' && c != '[' {
		v, err := reading.ParseValue(string(trimmed))
		if err != nil {
			return dst, fmt.Errorf("payload is neither JSON nor a number: %w", err)
		}
		if opts.Stream == "" {
			return dst, errors.New("bare number but no stream (the stream template gives an empty name)")
		}
		return append(dst, reading.Reading{Node: opts.Node, Stream: opts.Stream, Time: arrival.UTC(), Value: v}), nil
	}
	out, err := reading.ParseJSON(trimmed, dst, opts)
	if err == nil || trimmed[0] != '{' || !bytes.Contains(trimmed, []byte("\n")) {
		return out, err
	}
	// Not one object: JSON lines.
	r := reading.NewJSONLReader(bytes.NewReader(trimmed), opts)
	r.SetMaxLineBytes(len(trimmed) + 1)
	n := len(dst)
	for {
		dst, err = r.Next(dst)
		switch {
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return dst[:n], err
		}
	}
}

// Close stops a running Read. It is idempotent.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.cancel != nil {
		s.cancel()
	}
	return nil
}

// expand fills a topic template: {topic}, {last}, {1}, {2}, …
func expand(tmpl, topic string) string {
	if !strings.Contains(tmpl, "{") {
		return tmpl
	}
	levels := strings.Split(topic, "/")
	var b strings.Builder
	for {
		open := strings.IndexByte(tmpl, '{')
		if open < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		end := strings.IndexByte(tmpl[open:], '}')
		b.WriteString(tmpl[:open])
		name := tmpl[open+1 : open+end]
		switch name {
		case "topic":
			b.WriteString(topic)
		case "last":
			b.WriteString(levels[len(levels)-1])
		default:
			if n, _ := strconv.Atoi(name); n >= 1 && n <= len(levels) {
				b.WriteString(levels[n-1])
			}
		}
		tmpl = tmpl[open+end+1:]
	}
}

// checkTemplate checks the placeholders of a topic template.
func checkTemplate(tmpl string) error {
	rest := tmpl
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			if strings.Contains(rest, "}") {
				return fmt.Errorf("template %q: } without {", tmpl)
			}
			return nil
		}
		if strings.Contains(rest[:open], "}") {
			return fmt.Errorf("template %q: } without {", tmpl)
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return fmt.Errorf("template %q: { without }", tmpl)
		}
		name := rest[open+1 : open+end]
		if n, err := strconv.Atoi(name); name != "topic" && name != "last" && (err != nil || n < 1) {
			return fmt.Errorf("template %q: placeholder {%s} unknown (want {topic}, {last} or a level {1}, {2}, …)", tmpl, name)
		}
		rest = rest[open+end+1:]
	}
}

var (
	_ stages.Source = (*Source)(nil)
	_ stages.Closer = (*Source)(nil)
)
