package fedavg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"github.com/edgeflow/edgeflow/cloud"
	"github.com/edgeflow/edgeflow/internal/fl/aggregate"
	"github.com/edgeflow/edgeflow/internal/fl/flkafka"
	"github.com/edgeflow/edgeflow/internal/fl/model"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
)

// Coordinator is the fedavg source: it runs the federation's rounds.
type Coordinator struct {
	cfg     *Config
	node    string
	brokers []string
	log     *slog.Logger
	pub     *kafkabus.Publisher
	updates *kafkabus.Subscriber
	beats   *kafkabus.Subscriber // nil without heartbeat_topic
	tracker *cloud.NodeTracker
	coord   aggregate.Coordinator

	closeOnce sync.Once
}

func build(_ context.Context, cfg *Config, env stages.Env) (stages.Source, error) {
	brokers, err := flkafka.Brokers(cfg.Brokers, env.Node.Brokers)
	if err != nil {
		return nil, stages.FieldErrorf("brokers", "%w", err)
	}
	if _, err := model.NewMLP(cfg.InitSeed, cfg.Layers...); err != nil {
		return nil, stages.FieldErrorf("layers", "%w", err)
	}
	log := env.Log().With("stage", "fedavg", "model", cfg.ModelName)
	client := "edgeflow-fedavg"
	if env.Node.ID != "" {
		client = "edgeflow-" + env.Node.ID
	}
	c := &Coordinator{cfg: cfg, node: env.Node.ID, brokers: brokers, log: log}
	c.coord = aggregate.Coordinator{
		Sampling: aggregate.Sampling{Fraction: cfg.Fraction, Min: cfg.MinClients, Seed: cfg.SamplingSeed},
		Policy:   aggregate.RoundPolicy{Quorum: cfg.Quorum, Timeout: cfg.RoundTimeout},
		Aggregate: aggregate.Config{
			ServerLearningRate: cfg.ServerLearningRate,
		},
	}
	switch cfg.Rule {
	case RuleMedian:
		c.coord.Aggregate.Rule = aggregate.Median{}
	case RuleTrimmedMean:
		c.coord.Aggregate.Rule = aggregate.TrimmedMean{Trim: cfg.Trim}
	case RuleKrum:
		c.coord.Aggregate.Rule = aggregate.Krum{Byzantine: cfg.Byzantine, Select: cfg.KrumSelect}
	default:
		c.coord.Aggregate.Rule = aggregate.FedAvg{}
	}
	if cfg.ClipNorm > 0 {
		c.coord.Aggregate.Privacy = &aggregate.Privacy{ClipNorm: cfg.ClipNorm, NoiseMultiplier: cfg.NoiseMultiplier, Seed: cfg.NoiseSeed}
	}
	wlog := watermill.NewSlogLogger(log)
	if c.pub, err = kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers, ClientID: client,
		Key: flkafka.ModelKey, TopicConfig: flkafka.ModelsTopicConfig, Logger: wlog}); err != nil {
		return nil, fmt.Errorf("fedavg: %w", err)
	}
	group := cfg.Group
	if group == "" {
		group = "edgeflow.fedavg." + cfg.ModelName
	}
	if c.updates, err = kafkabus.NewSubscriber(kafkabus.SubscriberConfig{Brokers: brokers, ConsumerGroup: group,
		Start: kafkabus.StartOldest, ClientID: client, Logger: wlog}); err != nil {
		c.Close()
		return nil, fmt.Errorf("fedavg: %w", err)
	}
	if cfg.HeartbeatTopic != "" {
		if c.beats, err = kafkabus.NewSubscriber(kafkabus.SubscriberConfig{Brokers: brokers, Start: kafkabus.StartOldest,
			ClientID: client, DisableTopicCreation: true, Logger: wlog}); err != nil {
			c.Close()
			return nil, fmt.Errorf("fedavg: %w", err)
		}
		if c.tracker, err = cloud.NewNodeTracker(cloud.NodeTrackerConfig{Timeout: cfg.NodeTimeout, Logger: log}); err != nil {
			c.Close()
			return nil, stages.FieldErrorf("node_timeout", "%w", err)
		}
	}
	return c, nil
}

// clients are the nodes a round may sample now, sorted.
func (c *Coordinator) clients(now time.Time) []string {
	out := slices.Clone(c.cfg.Clients)
	if c.tracker != nil {
	nodes:
		for _, n := range c.tracker.Nodes(now) {
			if !n.Up {
				continue
			}
			for k, v := range c.cfg.ClientLabels {
				if n.Heartbeat.Labels[k] != v {
					continue nodes
				}
			}
			out = append(out, n.Heartbeat.NodeID)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// waitClients returns once at least min_clients are known.
func (c *Coordinator) waitClients(ctx context.Context) ([]string, error) {
	logged := false
	for {
		if cl := c.clients(time.Now()); len(cl) >= c.cfg.MinClients {
			return cl, nil
		} else if !logged {
			c.log.Info("waiting for clients", "known", len(cl), "min_clients", c.cfg.MinClients)
			logged = true
		}
		if err := stages.Sleep(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// Read runs the rounds, emitting a report of each, until rounds are done
// (nil, after publishing the final model) or ctx ends (ctx.Err()).
func (c *Coordinator) Read(ctx context.Context, emit stages.EmitFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	if c.tracker != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.tracker.Run(ctx, c.beats, c.cfg.HeartbeatTopic); err != nil {
				c.log.Error("heartbeats not followed: only the configured clients are known", "error", err)
			}
		}()
	}
	msgs, err := c.updates.Subscribe(ctx, c.cfg.UpdatesTopic)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("fedavg: subscribe to %s: %w", c.cfg.UpdatesTopic, err)
	}
	rec := &recordingTransport{}
	rec.Transport, err = flkafka.NewTransport(flkafka.TransportConfig{Name: c.cfg.ModelName, ModelsTopic: c.cfg.ModelsTopic,
		Publisher: c.pub, Updates: msgs, RoundTimeout: c.cfg.RoundTimeout, Logger: c.log})
	if err != nil {
		return fmt.Errorf("fedavg: %w", err)
	}
	global, err := model.NewMLP(c.cfg.InitSeed, c.cfg.Layers...)
	if err != nil {
		return fmt.Errorf("fedavg: %w", err)
	}
	var version uint64
	round := uint64(1)
	if c.cfg.Resume {
		if round, version, err = c.resume(ctx, &global); err != nil {
			return err
		}
		rec.SetVersion(version)
	}
	for ; c.cfg.Rounds == 0 || round <= uint64(c.cfg.Rounds); round++ {
		clients, err := c.waitClients(ctx)
		if err != nil {
			return err
		}
		coord := c.coord
		selected, err := aggregate.Sample(round, clients, coord.Sampling)
		if err != nil {
			return fmt.Errorf("fedavg: round %d: %w", round, err)
		}
		coord.Policy.Quorum = min(coord.Policy.Quorum, len(selected))
		rec.begin(round)
		res, stats, err := coord.RunRound(ctx, rec, round, clients, global)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		ok := err == nil
		switch {
		case errors.Is(err, aggregate.ErrNoUpdates):
			c.log.Warn("round without usable updates: the global model stays", "round", round, "stragglers", stats.Stragglers)
		case err != nil && stats.Round == 0: // broadcast or sampling failed: nothing happened
			c.log.Error("round failed", "round", round, "error", err)
			if err := stages.Sleep(ctx, time.Second); err != nil {
				return err
			}
			continue
		case err != nil:
			c.log.Error("round not aggregated: the global model stays", "round", round, "error", err)
		default:
			global = res.Model
			version++
			rec.SetVersion(version)
		}
		c.log.Info("round closed", "round", round, "selected", stats.Selected, "accepted", stats.Accepted,
			"late", stats.Late, "stragglers", stats.Stragglers, "version", version, "seconds", stats.Duration.Seconds())
		msg := reading.NewMessage(c.report(round, version, len(clients), ok, res, stats, rec.accepted()))
		if err := emit(ctx, msg); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.log.Warn("round report rejected by the pipeline", "round", round, "error", err)
		}
		if err := stages.Sleep(ctx, c.cfg.RoundInterval); err != nil && c.cfg.RoundInterval > 0 {
			return err
		}
	}
	final := &flkafka.GlobalModel{Name: c.cfg.ModelName, Round: round, Version: version, Deadline: time.Now(), Model: global}
	if err := rec.Publish(ctx, final); err != nil {
		return fmt.Errorf("fedavg: final model: %w", err)
	}
	c.log.Info("federation done: final model published", "rounds", c.cfg.Rounds, "version", version)
	return nil
}

// resume reads the latest record of the model from the models topic and
// returns the round to run next and the version of *global, which it
// replaces. Without a record: round 1, version 0, *global unchanged.
func (c *Coordinator) resume(ctx context.Context, global *model.Model) (uint64, uint64, error) {
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	g, err := flkafka.LatestModel(lctx, c.brokers, c.cfg.ModelsTopic, c.cfg.ModelName)
	if err != nil {
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
		return 0, 0, fmt.Errorf("fedavg: resume: %w", err)
	}
	if g == nil {
		return 1, 0, nil
	}
	if !g.Model.Layout.Equal(global.Layout) {
		return 0, 0, stages.FieldErrorf("layers", "fedavg: resume: %s holds model %q with layout %v, layers %v make %v: choose another model_name or set resume: false",
			c.cfg.ModelsTopic, c.cfg.ModelName, g.Model.Layout, c.cfg.Layers, global.Layout)
	}
	next := g.Round + 1 // that round was open when the coordinator stopped
	if len(g.Selected) == 0 {
		next = g.Round // a final model: its round never opened
	}
	*global = g.Model
	c.log.Info("resumed from the models topic", "round", next, "version", g.Version)
	return next, g.Version, nil
}

// report is a round's outcome as readings of the streams <stream>.round.*,
// labelled with the round.
func (c *Coordinator) report(round, version uint64, clients int, ok bool, res aggregate.Result,
	st aggregate.RoundStats, accepted map[string]*model.Update) []reading.Reading {
	now := time.Now().UTC()
	labels := map[string]string{"round": strconv.FormatUint(round, 10), "model": c.cfg.ModelName, "rule": c.cfg.Rule}
	if !ok {
		labels["status"] = "not_aggregated"
	}
	var out []reading.Reading
	add := func(name string, v float64, extra ...string) {
		l := labels
		if len(extra) > 0 {
			l = map[string]string{}
			for k, v := range labels {
				l[k] = v
			}
			for i := 0; i+1 < len(extra); i += 2 {
				l[extra[i]] = extra[i+1]
			}
		}
		out = append(out, reading.Reading{Node: c.node, Stream: c.cfg.Stream + ".round." + name, Time: now, Value: v, Labels: l})
	}
	add("clients", float64(clients))
	add("selected", float64(st.Selected))
	add("accepted", float64(st.Accepted))
	add("late", float64(st.Late))
	add("future", float64(st.Future))
	add("duplicate", float64(st.Duplicate))
	add("unselected", float64(st.Unselected))
	add("stragglers", float64(len(st.Stragglers)))
	add("rejected", float64(len(res.Rejected)))
	add("used", float64(len(res.Used)))
	add("examples", float64(res.Examples))
	add("seconds", st.Duration.Seconds())
	if c.coord.Aggregate.Privacy != nil {
		add("clipped", float64(res.Clipped))
		add("noise_stddev", res.NoiseStddev)
	}
	// Each used node's weight in the average: examples/Σ examples for
	// fedavg, 1/n for the unweighted rules and under DP.
	var total float64
	var used []*model.Update
	for _, n := range res.Used {
		if u := accepted[n]; u != nil {
			used = append(used, u)
			total += float64(u.Examples)
		}
	}
	weighted := c.cfg.Rule == RuleFedAvg && c.coord.Aggregate.Privacy == nil
	for _, u := range used {
		w := 1 / float64(len(used))
		if weighted && total > 0 {
			w = float64(u.Examples) / total
		}
		add("weight", w, "node", u.Node)
		add("node_examples", float64(u.Examples), "node", u.Node)
	}
	for _, m := range []string{"train_loss", "train_accuracy", "eval_loss", "eval_accuracy"} {
		var sum, weight float64
		for _, u := range used {
			if v, ok := u.Metric(m); ok && !math.IsNaN(v) {
				sum += v * float64(u.Examples)
				weight += float64(u.Examples)
			}
		}
		if weight > 0 {
			add(m, sum/weight)
		}
	}
	add("version", float64(version)) // last: a report is complete with it
	return out
}

// recordingTransport remembers the updates of the current round that
// RunRound receives, for the round report.
type recordingTransport struct {
	*flkafka.Transport
	round uint64
	got   map[string]*model.Update
}

func (r *recordingTransport) begin(round uint64) {
	r.round, r.got = round, map[string]*model.Update{}
}

func (r *recordingTransport) Receive(ctx context.Context) (*model.Update, error) {
	u, err := r.Transport.Receive(ctx)
	if u != nil && u.Round == r.round {
		if _, dup := r.got[u.Node]; !dup {
			r.got[u.Node] = u
		}
	}
	return u, err
}

func (r *recordingTransport) accepted() map[string]*model.Update { return r.got }

// Close releases the Kafka clients. It is idempotent.
func (c *Coordinator) Close() error {
	var errs []error
	c.closeOnce.Do(func() {
		if c.beats != nil {
			errs = append(errs, c.beats.Close())
		}
		if c.updates != nil {
			errs = append(errs, c.updates.Close())
		}
		if c.pub != nil {
			errs = append(errs, c.pub.Close())
		}
	})
	return errors.Join(errs...)
}

var (
	_ stages.Source       = (*Coordinator)(nil)
	_ stages.Closer       = (*Coordinator)(nil)
	_ aggregate.Transport = (*recordingTransport)(nil)
)
