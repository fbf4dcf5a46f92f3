// Package anomaly is edgeflow's federated anomaly-detection experiment on
// real sensor readings: the TelosB motes of Suthaharan et al. (ISSNIP 2010),
// each mote an edge node.
//
// Data flows in four steps. ReadTelosB parses the labelled readings and
// ByNode groups them per mote, in time order. A Windower turns one node's
// stream of readings (any number of channels; here humidity and temperature)
// into windows of the last Size readings with the node's running statistics
// of the readings before the newest one, causally, so the same code serves
// a live stream; Window.AppendFeatures makes the model's input from a
// window (z-scores of the values and scaled deltas, clipped). SplitByTime
// cuts a node's windows chronologically into a training part and a later
// test part, dropping the windows that would share readings across the cut.
// Run trains a multilayer perceptron (internal/fl/train) in three settings —
// each node alone, federated over the real update wire format
// (internal/fl/simulate, FedAvg) and centralised on pooled training data —
// with the same epochs budget, on each node's windows labelled normal and
// synthetic anomalies made from them (Injection), sets each node's alarm
// threshold from its own training part, and scores every setting on every
// node's test part with Confusion counts (precision, recall, F1).
package anomaly
