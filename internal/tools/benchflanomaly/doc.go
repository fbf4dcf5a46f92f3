// Command benchflanomaly runs edgeflow's federated anomaly-detection
// experiment on the TelosB motes (internal/fl/anomaly): every node alone,
// federated (FedAvg over the update wire format) and centralised, for a set
// of seeds; it prints the results and, with -doc, rewrites the "Federated
// anomaly detection (TelosB)" section of a Markdown file (make
// bench-fl-anomaly). -results keeps every outcome as JSON, false alarms
// with the readings they fell on included.
package main
