package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/edgeflow/edgeflow/internal/fleet"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
)

const tasksUsage = `Usage: edgeflow tasks submit [flags] FILE...
       edgeflow tasks delete [flags] ID...
       edgeflow tasks list [flags]

submit checks the YAML files of tasks (every problem is printed as
FILE:LINE: tasks[i]: task ID: field: message, and nothing is sent) and writes each
task to the task topic, keyed by its id: a task submitted again replaces the
one with its id. delete writes an empty record (a tombstone) for each id; the
scheduler then stops the task. list reads the task, assignment and status
topics to their ends (every record written before it started; an error if that
takes longer than --wait) and prints every task with the node it is assigned
to, or "pending" and why (from the scheduler's status on edgeflow.schedule).

The file format (docs/scheduling.md):

  tasks:
    - id: boiler-a              # unique; the pipeline runs under this name
      pipeline: boiler          # the node runs <--pipelines-dir>/boiler.yaml
      params: {sensor: boiler-a}  # replaces ${sensor} in the pipeline file
      group: boiler             # replicas share a group (for spread)
      priority: 10
      resources: {cpu: 250m, memory: 64Mi, disk: 1Gi, accelerators: 0}
      constraints:
        labels: {arch: arm64}   # the node must carry these labels
        near_site: plant-1      # prefer nodes labelled site=plant-1
        accelerator: npu
        spread: {max_per_node: 1, zone_max_skew: 1}

Brokers come from --brokers, else EDGEFLOW_BROKERS, else 127.0.0.1:9092.

Examples:
  edgeflow tasks submit plant-1.tasks.yaml
  edgeflow tasks list
  edgeflow tasks delete boiler-a boiler-b`

func init() {
	register(command{name: "tasks", summary: "submit, list and delete the tasks the scheduler places", usage: tasksUsage, run: runTasks})
}

func runTasks(ctx context.Context, args []string, stdio stdio) error {
	if len(args) == 0 {
		return errUsage
	}
	c := command{name: "tasks", usage: tasksUsage}
	fs := newFlagSet(c, stdio.err)
	brokersFlag := fs.String("brokers", "", "comma-separated Kafka bootstrap brokers (default $EDGEFLOW_BROKERS, else 127.0.0.1:9092)")
	taskTopic := fs.String("task-topic", fleet.TaskTopic, "Kafka `topic` of the tasks")
	assignmentTopic := fs.String("assignment-topic", fleet.AssignmentTopic, "Kafka `topic` of the assignments (list)")
	statusTopic := fs.String("status-topic", fleet.StatusTopic, "Kafka `topic` of the scheduler's status (list)")
	wait := fs.Duration("wait", 30*time.Second, "list: how long reading the topics to their ends may take")
	verb := args[0]
	if verb == "-h" || verb == "--help" || verb == "help" {
		fs.Usage()
		return flag.ErrHelp
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	usageErr := func(err error) error { return &exitError{code: 2, err: err} }
	for _, t := range []struct{ flag, topic string }{{"--task-topic", *taskTopic}, {"--assignment-topic", *assignmentTopic}, {"--status-topic", *statusTopic}} {
		if err := kafkabus.ValidateTopic(t.topic); err != nil {
			return usageErr(fmt.Errorf("%s: %w", t.flag, err))
		}
	}
	brokers, err := tailBrokerList(*brokersFlag)
	if err != nil {
		return usageErr(err)
	}
	switch verb {
	case "submit":
		if fs.NArg() == 0 {
			return errUsage
		}
		var tasks []fleet.Task
		var errs []error
		for _, file := range fs.Args() {
			data, err := os.ReadFile(file)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			ts, err := fleet.ParseTaskFile(file, data)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			tasks = append(tasks, ts...)
		}
		if len(errs) > 0 {
			for _, e := range errs {
				fmt.Fprintln(stdio.err, e)
			}
			return &exitError{code: 1, err: errors.New("edgeflow tasks submit: problems in the task files; nothing was sent")}
		}
		if err := writeTasks(ctx, brokers, *taskTopic, tasks, nil); err != nil {
			return err
		}
		fmt.Fprintf(stdio.out, "submitted %d task(s) to %s\n", len(tasks), *taskTopic)
		return nil
	case "delete":
		if fs.NArg() == 0 {
			return errUsage
		}
		for _, id := range fs.Args() {
			if err := fleet.ValidateNodeID(id); err != nil {
				return usageErr(fmt.Errorf("task id: %w", err))
			}
		}
		if err := writeTasks(ctx, brokers, *taskTopic, nil, fs.Args()); err != nil {
			return err
		}
		fmt.Fprintf(stdio.out, "deleted %d task(s) from %s\n", fs.NArg(), *taskTopic)
		return nil
	case "list":
		if fs.NArg() != 0 || *wait < 0 {
			return errUsage
		}
		return listTasks(ctx, stdio.out, brokers, *taskTopic, *assignmentTopic, *statusTopic, *wait)
	}
	return usageErr(fmt.Errorf("edgeflow tasks: unknown action %q: want submit, delete or list", verb))
}

// writeTasks publishes the tasks and a tombstone for each id in deletes.
func writeTasks(ctx context.Context, brokers []string, topic string, tasks []fleet.Task, deletes []string) error {
	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers, ClientID: "edgeflow-tasks",
		Key: fleet.TaskKey, TopicConfig: fleet.CompactedTopicConfig, WriteTimeout: 15 * time.Second})
	if err != nil {
		return err
	}
	var msgs []*message.Message
	for _, t := range tasks {
		data, err := json.Marshal(t)
		if err != nil {
			return err
		}
		m := message.NewMessage(watermill.NewUUID(), data)
		m.Metadata.Set(fleet.MetaTask, t.ID)
		m.Metadata.Set("content-type", fleet.TaskContentType)
		msgs = append(msgs, m)
	}
	for _, id := range deletes {
		m := message.NewMessage(watermill.NewUUID(), nil)
		m.Metadata.Set(fleet.MetaTask, id)
		msgs = append(msgs, m)
	}
	err = pub.PublishContext(ctx, topic, msgs...)
	return errors.Join(err, pub.Close())
}

// listTasks reads the task, assignment and status topics to their ends (every
// record written before it started), at most for wait, and prints every task
// and its node, or pending and why.
func listTasks(ctx context.Context, w io.Writer, brokers []string, taskTopic, assignmentTopic, statusTopic string, wait time.Duration) error {
	readCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var status fleet.SchedulerStatus
	byID := map[string]fleet.Task{}
	byNode := map[string][]string{}
	reads := []struct {
		topic string
		each  func(m *message.Message)
	}{
		{taskTopic, func(m *message.Message) {
			key := m.Metadata.Get(fleet.MetaTask)
			if rec, ok := kafkabus.RecordFromContext(m.Context()); ok && len(rec.Key) > 0 {
				key = string(rec.Key)
			}
			if len(m.Payload) == 0 {
				delete(byID, key)
			} else if t, err := fleet.DecodeTask(m.Payload); err == nil {
				byID[t.ID] = t
			}
		}},
		{assignmentTopic, func(m *message.Message) {
			if a, err := fleet.DecodeAssignment(m.Payload); err == nil {
				byNode[a.NodeID] = nil
				for _, t := range a.Tasks {
					byNode[a.NodeID] = append(byNode[a.NodeID], t.ID)
				}
			}
		}},
		{statusTopic, func(m *message.Message) {
			if st, err := fleet.DecodeStatus(m.Payload); err == nil {
				status = st
			}
		}},
	}
	// Each topic has its own state, so the three reads run at once.
	errs := make([]error, len(reads))
	var wg sync.WaitGroup
	for i, r := range reads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := kafkabus.ReadAll(readCtx, brokers, r.topic, r.each); err != nil {
				errs[i] = fmt.Errorf("edgeflow tasks list: %s not read to its end within --wait %s: %w", r.topic, wait, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	nodeOf := map[string]string{}
	for node, ids := range byNode {
		for _, id := range ids {
			nodeOf[id] = node
		}
	}
	why := map[string]string{}
	for _, p := range status.Pending {
		why[p.ID] = p.Reason
	}
	printTasksTable(w, byID, nodeOf, why)
	return nil
}

// printTasksTable writes one row per task: its node, or "pending" and why.
func printTasksTable(w io.Writer, tasks map[string]fleet.Task, nodeOf, why map[string]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tNODE\tPIPELINE\tPRIORITY\tCPU\tMEMORY\tCONSTRAINTS\tWAITING BECAUSE")
	for _, id := range slices.Sorted(maps.Keys(tasks)) {
		t := tasks[id]
		node := nodeOf[id]
		if node == "" {
			node = "pending"
		}
		pipeline := t.Pipeline
		if pipeline == "" {
			pipeline = "(inline)"
		}
		var cons []string
		if len(t.Constraints.Labels) > 0 {
			var kv []string
			for _, k := range slices.Sorted(maps.Keys(t.Constraints.Labels)) {
				kv = append(kv, k+"="+t.Constraints.Labels[k])
			}
			cons = append(cons, "labels "+strings.Join(kv, ","))
		}
		if t.Constraints.NearSite != "" {
			cons = append(cons, "near "+t.Constraints.NearSite)
		}
		if t.Constraints.Accelerator != "" {
			cons = append(cons, "accelerator "+t.Constraints.Accelerator)
		}
		if s := t.Constraints.Spread; s.MaxPerNode > 0 || s.ZoneMaxSkew > 0 {
			cons = append(cons, fmt.Sprintf("spread %s max/node %d zone skew %d", t.Group, s.MaxPerNode, s.ZoneMaxSkew))
		}
		if len(cons) == 0 {
			cons = []string{"-"}
		}
		reason := "-"
		if nodeOf[id] == "" && why[id] != "" {
			reason = why[id]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", id, node, pipeline, t.Priority, cores(t.Resources.MilliCPU),
			bytesIEC(t.Resources.MemoryBytes), strings.Join(cons, "; "), reason)
	}
	tw.Flush()
}
