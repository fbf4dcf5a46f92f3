package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/edgeflow/edgeflow/cloud"
	"github.com/edgeflow/edgeflow/cloud/schedule"
	"github.com/edgeflow/edgeflow/internal/fleet"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/internal/placement"
)

const scheduleUsage = `Usage: edgeflow schedule [flags]

Runs the scheduler until interrupted: it reads the tasks submitted to
edgeflow.tasks (edgeflow tasks submit) and the nodes' heartbeats from
edgeflow.heartbeats, places every task on a node that is up and has the
capacity (minus the requests of the tasks it already runs), the labels and the
accelerator the task asks for, and writes each node's full set of tasks to
edgeflow.assignments, keyed by the node id, and the tasks that wait, with the
reason, to edgeflow.schedule (edgeflow tasks list shows them). Nodes started with
edgeflow run --assignments start and stop pipelines to match.

When a node stops sending heartbeats for --timeout, its tasks move to other
nodes. A task no node can take waits; the log says why (for example
"0/3 nodes can take it: 2 insufficient memory, 1 down"). With --preempt a task
may evict tasks of lower priority. At start the scheduler reads for --settle
before planning, so the nodes that are up have been heard from and the
assignments written before are kept.

Run one scheduler per cluster. Brokers come from --brokers, else
EDGEFLOW_BROKERS, else 127.0.0.1:9092. See docs/scheduling.md.

Examples:
  edgeflow schedule
  edgeflow schedule --algorithm balanced --preempt --timeout 15s
  edgeflow schedule --brokers kafka-1:9092 --log-format json`

func init() {
	register(command{name: "schedule", summary: "place submitted tasks on edge nodes and write their assignments", usage: scheduleUsage, run: runSchedule})
}

func runSchedule(ctx context.Context, args []string, stdio stdio) error {
	c := command{name: "schedule", usage: scheduleUsage}
	fs := newFlagSet(c, stdio.err)
	brokersFlag := fs.String("brokers", "", "comma-separated Kafka bootstrap brokers (default $EDGEFLOW_BROKERS, else 127.0.0.1:9092)")
	algorithm := fs.String("algorithm", "best-fit", "placement algorithm: "+strings.Join(placement.AlgorithmNames(), ", "))
	preempt := fs.Bool("preempt", false, "let a task that fits nowhere evict tasks of lower priority")
	seed := fs.Uint64("seed", 1, "seed of the random choices (same inputs and seed, same placement)")
	timeout := fs.Duration("timeout", cloud.DefaultNodeTimeout, "a node silent this long is down and its tasks move")
	settle := fs.Duration("settle", 0, "read this long before the first round (default: --timeout)")
	interval := fs.Duration("interval", time.Second, "plan at least this often")
	taskTopic := fs.String("task-topic", fleet.TaskTopic, "Kafka `topic` of the tasks")
	heartbeatTopic := fs.String("heartbeat-topic", fleet.HeartbeatTopic, "Kafka `topic` of the heartbeats")
	assignmentTopic := fs.String("assignment-topic", fleet.AssignmentTopic, "Kafka `topic` of the assignments")
	statusTopic := fs.String("status-topic", fleet.StatusTopic, "Kafka `topic` of the scheduler's status (the tasks that wait and why)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errUsage
	}
	usageErr := func(err error) error { return &exitError{code: 2, err: err} }
	if *timeout <= 0 || *settle < 0 || *interval <= 0 {
		return usageErr(errors.New("--timeout and --interval must be positive and --settle not negative"))
	}
	for _, t := range []struct{ flag, topic string }{{"--task-topic", *taskTopic}, {"--heartbeat-topic", *heartbeatTopic}, {"--assignment-topic", *assignmentTopic}, {"--status-topic", *statusTopic}} {
		if err := kafkabus.ValidateTopic(t.topic); err != nil {
			return usageErr(fmt.Errorf("%s: %w", t.flag, err))
		}
	}
	planner, err := placement.NewPlanner(*algorithm, placement.Options{Seed: *seed, Preempt: *preempt})
	if err != nil {
		return usageErr(fmt.Errorf("--algorithm: %w", err))
	}
	brokers, err := tailBrokerList(*brokersFlag)
	if err != nil {
		return usageErr(err)
	}
	logger, err := newRunLogger(stdio.err, *logLevel, *logFormat)
	if err != nil {
		return usageErr(err)
	}

	var sched *schedule.Scheduler
	tracker, err := cloud.NewNodeTracker(cloud.NodeTrackerConfig{Timeout: *timeout, Logger: logger, OnChange: func(ev cloud.NodeEvent) {
		logger.Info("node "+map[bool]string{true: "up", false: "down"}[ev.Up], "node", ev.NodeID, "reason", ev.Reason)
		if sched != nil {
			sched.Poke()
		}
	}})
	if err != nil {
		return err
	}
	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers, ClientID: "edgeflow-schedule",
		Key: schedule.RecordKey, TopicConfig: fleet.CompactedTopicConfig, WriteTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer pub.Close()
	sub, err := kafkabus.NewSubscriber(kafkabus.SubscriberConfig{Brokers: brokers, Start: kafkabus.StartOldest,
		ClientID: "edgeflow-schedule", DisableTopicCreation: true, MaxWait: 500 * time.Millisecond})
	if err != nil {
		return err
	}
	defer sub.Close()
	sched, err = schedule.New(schedule.Config{Planner: planner, Tracker: tracker, Logger: logger,
		Writer: schedule.KafkaAssignments{Publisher: pub, Topic: *assignmentTopic, StatusTopic: *statusTopic}})
	if err != nil {
		return err
	}
	logger.Info("scheduler starting", "algorithm", *algorithm, "preempt", *preempt, "timeout", *timeout,
		"brokers", strings.Join(brokers, ","))
	return sched.Run(ctx, schedule.RunConfig{Subscriber: sub, TaskTopic: *taskTopic, HeartbeatTopic: *heartbeatTopic,
		AssignmentTopic: *assignmentTopic, Settle: *settle, Interval: *interval,
		OnRound: func(r schedule.Report, err error) {
			if len(r.Written) > 0 {
				logger.Info("assignments written", "generation", r.Generation, "nodes", strings.Join(r.Written, ","),
					"pending", len(r.Pending))
			}
		}})
}
