// Package all compiles in edgeflow's standard stages: a blank import of it
// registers every stage package (sources, processors, sinks) with the stage
// registry, as the edgeflow binary does. Programs that want a smaller binary
// import only the stage packages they use.
package all
