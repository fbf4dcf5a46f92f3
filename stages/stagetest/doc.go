// Package stagetest is the conformance suite every edgeflow stage runs from its
// own tests, so that all stages behave alike in a pipeline.
//
// A stage package's test calls Run once per registered stage:
//
//	func TestConformance(t *testing.T) {
//		stagetest.Run(t, stages.KindProcessor, "encode", stagetest.Features{Buffers: true})
//	}
//
//	func TestKafkaSinkConformance(t *testing.T) {
//		brokers := stagetest.KafkaBrokers()
//		stagetest.Run(t, stages.KindSink, "kafka", stagetest.Features{
//			NeedsKafka:     true,
//			RequiredFields: []string{"topic"},
//			ValidConfig:    "topic: edgeflow.test\nbrokers: [" + strings.Join(brokers, ", ") + "]",
//		})
//	}
//
// Run checks, each in its own subtest: the stage is registered; its Info is
// complete; its spec's fields match the config struct's yaml keys one to one and
// each has a description; every Info example loads and validates through the
// pipeline loader (wrapped in a minimal pipeline with this package's helper
// stages around it); unknown keys are rejected naming the key; the default
// config validates, or fails with a stages.FieldError naming one of
// Features.RequiredFields, and removing a required field from ValidConfig fails
// loading; and, built from ValidConfig (or the defaults): the value implements
// the interface of its kind (and stages.Flusher exactly when Features.Buffers),
// a source's Read with an already-cancelled context returns within 2 s with nil
// or the context's error, a processor given malformed payloads returns an error
// (a Nack) instead of panicking, a sink's Write with a cancelled context returns
// within 2 s, Close is idempotent, and no goroutine outlives Close.
//
// Data flows only through the stage under test: the helper stages
// ("stagetest-readings", "stagetest-frames" and "stagetest-sink") exist so that
// examples can be loaded as real pipelines. Checks needing a service (Kafka,
// MQTT) run only when it answers; otherwise they skip saying why, or fail when
// the environment variable CI is "true". Nothing is skipped silently.
package stagetest
