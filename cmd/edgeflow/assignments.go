package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/edge"
	"github.com/edgeflow/edgeflow/internal/fleet"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
	"github.com/edgeflow/edgeflow/pipelines"
)

// assignmentFlags are edgeflow run's flags for following the scheduler.
type assignmentFlags struct {
	follow *bool
	dir    *string
	topic  *string
}

func bindAssignmentFlags(fs *flag.FlagSet) *assignmentFlags {
	return &assignmentFlags{
		follow: fs.Bool("assignments", false, "also run the tasks the scheduler (edgeflow schedule) assigns to this node, starting and stopping them as its assignment changes; FILE arguments become optional"),
		dir:    fs.String("pipelines-dir", "", "`directory` of the pipeline files tasks name (task pipeline boiler runs DIR/boiler.yaml)"),
		topic:  fs.String("assignment-topic", fleet.AssignmentTopic, "Kafka `topic` of the assignments"),
	}
}

func (f *assignmentFlags) enabled() bool { return *f.follow }

func (f *assignmentFlags) validate() error {
	if !*f.follow && *f.dir != "" {
		return errors.New("--pipelines-dir needs --assignments")
	}
	return kafkabus.ValidateTopic(*f.topic)
}

// assignedTasks runs the tasks assigned to the node until ctx ends.
type assignedTasks struct {
	sup  *edge.Supervisor
	done chan error
}

// startAssignedTasks starts a supervisor following the node's assignments.
func (f *assignmentFlags) start(ctx context.Context, settings edge.NodeSettings, logger *slog.Logger, opts []pipelines.RunnerOption) (*assignedTasks, error) {
	sup, err := edge.NewSupervisor(edge.SupervisorConfig{Node: settings.Node(), PipelinesDir: *f.dir, Options: opts, Logger: logger})
	if err != nil {
		return nil, err
	}
	sub, err := kafkabus.NewSubscriber(kafkabus.SubscriberConfig{Brokers: settings.Brokers, Start: kafkabus.StartOldest,
		ClientID: "edgeflow-" + settings.ID + "-assignments", DisableTopicCreation: true, MaxWait: 500 * time.Millisecond})
	if err != nil {
		return nil, fmt.Errorf("assignments: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	a := &assignedTasks{sup: sup, done: make(chan error, 1)}
	supDone := make(chan struct{})
	go func() {
		defer close(supDone)
		_ = sup.Run(ctx)
	}()
	go func() {
		// The latest assignment first, so that a restarted node does not
		// run, for a moment, the tasks of the older ones the topic holds.
		read := func(ctx context.Context, each func(*message.Message)) error {
			return kafkabus.ReadAll(ctx, settings.Brokers, *f.topic, each)
		}
		catchUpCtx, cancelCatchUp := context.WithTimeout(ctx, 30*time.Second)
		if err := sup.CatchUpAssignments(catchUpCtx, read); err != nil && ctx.Err() == nil {
			logger.Warn("assignments: the latest assignment could not be read first; applying each record as it comes", "error", err)
		}
		cancelCatchUp()
		err := sup.FollowAssignments(ctx, sub, *f.topic)
		cancel() // a failed subscription stops the tasks too
		<-supDone
		if cerr := sub.Close(); cerr != nil && err == nil {
			logger.Warn("closing the assignment subscriber", "error", cerr)
		}
		a.done <- err
	}()
	logger.Info("following assignments", "topic", *f.topic, "pipelines_dir", *f.dir)
	return a, nil
}

// wait blocks until the tasks stopped (ctx ended, or following failed).
func (a *assignedTasks) wait() error { return <-a.done }
