// Package reading defines the unit of data edgeflow moves: one sensor reading
// (node, stream, timestamp, value, optional labels), and its text forms.
//
// Inside a pipeline, readings travel as JSON lines in messages of kind
// stages.KindReadings. Values are float64 and survive every text form bit-exact:
// numbers use the shortest round-trip spelling, and the non-finite values are
// spelled "NaN", "+Inf", "-Inf" (JSON strings in JSON), a NaN with a payload other
// than Go's math.NaN() as "NaN(0x7ff8000000000000)", and negative zero as "-0".
package reading
