package aggregate_test

import (
	"context"
	"fmt"

	"github.com/edgeflow/edgeflow/internal/fl/aggregate"
	"github.com/edgeflow/edgeflow/internal/fl/model"
)

// One round: two nodes sent deltas, one of them twice and one too late;
// FedAvg weighs the accepted ones by their example counts.
func ExampleAggregate() {
	layout := model.Layout{{Name: "w", Shape: []int{2}}}
	global := model.Model{Layout: layout, Params: []float32{1, 1}}
	delta := func(round uint64, node string, examples uint64, d float32) *model.Update {
		return &model.Update{Round: round, Node: node, Examples: examples, Kind: model.KindDelta, Layout: layout, Params: []float32{d, -d}}
	}
	res, err := aggregate.Aggregate(context.Background(), 7, global, []*model.Update{
		delta(7, "edge-a", 100, 0.5),
		delta(7, "edge-b", 300, 0.1),
		delta(7, "edge-b", 300, 9),
		delta(6, "edge-c", 300, 9),
	}, aggregate.Config{Rule: aggregate.FedAvg{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("global %.2f from %v (%d examples)\n", res.Model.Params, res.Used, res.Examples)
	for _, r := range res.Rejected {
		fmt.Printf("rejected %s: %s\n", r.Node, r.Reason)
	}
	// Output:
	// global [1.20 0.80] from [edge-a edge-b] (400 examples)
	// rejected edge-b: a second update from this node
	// rejected edge-c: round 6, aggregating 7
}
