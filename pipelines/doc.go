// Package pipelines loads pipeline files (YAML), validates them against the stage
// registry, generates their JSON Schema, and runs them: sources feed ordered
// processors that feed sinks, wired with a watermill router and middleware.
package pipelines
