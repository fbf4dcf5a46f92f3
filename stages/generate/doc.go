// Package generate is the "generate" source: simulated sensors for demos, tests
// and benchmarks. Each sensor follows a base level plus a 24-hour cycle, a slow
// random-walk drift and Gaussian noise, quantised to the sensor's decimals like a
// real mote, with occasional injected anomalies (spikes, level shifts, stuck
// values, dropouts) labelled anomaly=<kind>. A seeded random source makes the
// data repeatable. On every tick the readings of all sensors due are emitted as
// one message of kind readings, paced by the clock or as fast as possible.
package generate
