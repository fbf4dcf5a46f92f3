// Package stages is the contract every edgeflow pipeline stage implements and the
// registry that knows which stages are compiled in.
//
// A pipeline moves watermill messages from sources through ordered processors to
// sinks. A stage package registers itself once, from init, with an ID ("encode",
// "generate", "kafka" …), a kind (source, processor or sink), a function returning
// its config struct filled with defaults, and a build function. The loader in
// package pipelines decodes the stage's YAML strictly into that config struct,
// calls Validate, then Build; the runtime wraps every processor in middleware
// (tracing, metrics, retry) so that stages stay small.
//
// Data flows as messages whose metadata key MetaKind says what the payload is:
// KindReadings (JSON lines of readings, see package reading) or KindFrame (one
// encoded frame, see package frame).
package stages
