// Command edgeflow is edgeflow's one binary: it runs pipeline files on an edge
// node (run), checks them (lint, schema), converts readings to frames and back
// (encode, decode), reads a Kafka topic as a cloud consumer would (tail), and
// runs the whole system in one process on an embedded broker (demo).
//
// Each subcommand lives in its own file and registers itself from init with
// register(command{...}); main dispatches on the first argument, and
// "edgeflow COMMAND --help" prints the command's usage with examples.
package main
