package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/edgeflow/edgeflow/cloud"
	"github.com/edgeflow/edgeflow/edge"
	"github.com/edgeflow/edgeflow/internal/kafkabus"
)

const nodesUsage = `Usage: edgeflow nodes [flags]

Lists the edge nodes that publish heartbeats (edgeflow run does, every 5s by
default): for each node whether it is up, when it was last heard from, its
free and total CPU, memory, disk and accelerators, its running pipelines,
labels and version. A node is down when it has sent no heartbeat for
--timeout, or its last heartbeat said it was stopping.

It reads the heartbeat topic (it does not create it; edge nodes do) from its
oldest record for --wait, then prints
the table and exits. With --watch it then keeps reading and prints one line
per node that comes up or goes down, until interrupted.

Brokers come from --brokers, else EDGEFLOW_BROKERS, else 127.0.0.1:9092.
The heartbeat schema is in docs/topics.md.

Examples:
  edgeflow nodes
  edgeflow nodes --watch --timeout 30s
  edgeflow nodes --brokers kafka-1:9092 --topic edgeflow.heartbeats --wait 10s`

func init() {
	register(command{
		name:    "nodes",
		summary: "list edge nodes from their heartbeats: up or down, free resources",
		usage:   nodesUsage,
		run:     runNodes,
	})
}

func runNodes(ctx context.Context, args []string, stdio stdio) error {
	c := command{name: "nodes", usage: nodesUsage}
	fs := newFlagSet(c, stdio.err)
	brokersFlag := fs.String("brokers", "", "comma-separated Kafka bootstrap brokers (default $EDGEFLOW_BROKERS, else 127.0.0.1:9092)")
	topic := fs.String("topic", edge.DefaultHeartbeatTopic, "heartbeat `topic`")
	timeout := fs.Duration("timeout", cloud.DefaultNodeTimeout, "a node silent this long is down")
	wait := fs.Duration("wait", edge.DefaultHeartbeatInterval+time.Second, "read heartbeats this long before printing the table")
	watch := fs.Bool("watch", false, "after the table, print a line per node that comes up or goes down until interrupted")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errUsage
	}
	if *timeout <= 0 || *wait < 0 {
		return &exitError{code: 2, err: errors.New("--timeout must be positive and --wait not negative")}
	}
	if err := kafkabus.ValidateTopic(*topic); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--topic: %w", err)}
	}
	brokers, err := tailBrokerList(*brokersFlag)
	if err != nil {
		return &exitError{code: 2, err: err}
	}

	// Changes before the table is printed are in the table; after it, with
	// --watch, each one is a line.
	var mu sync.Mutex
	printing := false
	tracker, err := cloud.NewNodeTracker(cloud.NodeTrackerConfig{Timeout: *timeout, OnChange: func(ev cloud.NodeEvent) {
		mu.Lock()
		defer mu.Unlock()
		if printing {
			fmt.Fprintln(stdio.out, formatNodeEvent(ev))
		}
	}})
	if err != nil {
		return err
	}
	sub, err := kafkabus.NewSubscriber(kafkabus.SubscriberConfig{Brokers: brokers, Start: kafkabus.StartOldest,
		ClientID: "edgeflow-nodes", DisableTopicCreation: true})
	if err != nil {
		return err
	}
	defer sub.Close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- tracker.Run(runCtx, sub, *topic) }()

	select {
	case <-time.After(*wait):
	case err := <-runErr:
		if err != nil {
			return err
		}
		return ctx.Err()
	case <-ctx.Done():
		return nil
	}
	mu.Lock()
	now := time.Now()
	printNodesTable(stdio.out, tracker.Nodes(now), now)
	printing = *watch
	mu.Unlock()
	if !*watch {
		return nil
	}
	select {
	case err := <-runErr:
		return err
	case <-ctx.Done():
		return nil
	}
}

func formatNodeEvent(ev cloud.NodeEvent) string {
	state := "down"
	if ev.Up {
		state = "up"
	}
	return fmt.Sprintf("%s %s %s (%s)", ev.At.UTC().Format(time.RFC3339), ev.NodeID, state, ev.Reason)
}

// printNodesTable writes one row per node: free/total of each resource.
func printNodesTable(w io.Writer, nodes []cloud.NodeView, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATUS\tLAST SEEN\tCPU FREE/TOTAL\tMEMORY FREE/TOTAL\tDISK FREE/TOTAL\tACCEL\tPIPELINES\tLABELS\tVERSION")
	for _, n := range nodes {
		hb := n.Heartbeat
		status := "down"
		if n.Up {
			status = "up"
		} else if hb.Stopping {
			status = "down (stopped)"
		}
		accel := "-"
		if hb.Capacity.Accelerators > 0 {
			var kinds []string
			for _, a := range hb.Accelerators {
				kinds = append(kinds, a.Kind)
			}
			sort.Strings(kinds)
			accel = fmt.Sprintf("%d/%d %s", hb.Free.Accelerators, hb.Capacity.Accelerators, strings.Join(kinds, ","))
		}
		pipes := strings.Join(hb.Pipelines, ",")
		if pipes == "" {
			pipes = "-"
		}
		labels := edge.FormatLabels(hb.Labels)
		if labels == "" {
			labels = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s ago\t%s/%s\t%s/%s\t%s/%s\t%s\t%s\t%s\t%s\n", hb.NodeID, status,
			now.Sub(n.LastSeen).Round(100*time.Millisecond),
			cores(hb.Free.MilliCPU), cores(hb.Capacity.MilliCPU),
			bytesIEC(hb.Free.MemoryBytes), bytesIEC(hb.Capacity.MemoryBytes),
			bytesIEC(hb.Free.DiskBytes), bytesIEC(hb.Capacity.DiskBytes),
			accel, pipes, labels, hb.Version)
	}
	tw.Flush()
}

// cores spells millicores as cores with two decimals.
func cores(milli int64) string { return fmt.Sprintf("%.2f", float64(milli)/1000) }

// bytesIEC spells a byte count with a binary unit and one decimal.
func bytesIEC(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
