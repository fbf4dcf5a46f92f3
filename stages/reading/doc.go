// Package reading defines the unit of data edgeflow moves: one sensor reading
// (node, stream, timestamp, value, optional labels), and its text forms.
//
// Inside a pipeline, readings travel as JSON lines in messages of kind
// stages.KindReadings (NewMessage builds one, DecodePayload reads one back).
// Values are float64 and survive every text form bit-exact: numbers use the
// shortest round-trip spelling, and the non-finite values are spelled "NaN",
// "+Inf", "-Inf" (JSON strings in JSON), a NaN with a payload other than Go's
// math.NaN() as "NaN(0x7ff8000000000000)", and negative zero as "-0".
//
// Sources read readings from outside with ParseJSONLine (one reading object, or
// a multi-value object {"stream":"env","ts":…,"values":{"humidity":43.8,…}} that
// expands to the streams env.humidity, …), ParseJSON (an object or an array),
// JSONLReader (a stream of JSON lines) and CSVReader ("timestamp,value" or one
// stream per value column). The streaming readers return a *LineError for a bad
// line and carry on with the next one, so one bad line never stops a replay.
package reading
