// Package edge runs pipelines on an edge node. It resolves the node's settings
// (id, labels, Kafka brokers, data directory) from command-line flags, the
// environment, a node file and defaults, in that order of precedence, into the
// stages.Node every stage is built with; and its Runtime builds the loaded
// pipelines whose node_selector matches the node's labels, runs them side by
// side, and drains them all when stopped. docs/configuration.md documents every
// setting.
package edge
