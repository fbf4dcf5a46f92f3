package pipelines

import (
	"github.com/edgeflow/edgeflow/edge/spool"
	"github.com/edgeflow/edgeflow/stages"
)

// Pipeline is a loaded, validated pipeline file: every step's config is decoded
// strictly and validated, but nothing is built (no files opened, no connections).
type Pipeline struct {
	File         string            // path as given to the loader
	Name         string            // "name:" in the file; defaults to the file's base name without extension
	NodeSelector map[string]string // node labels that must all match for a node to run it; empty: every node
	Sources      []Step
	Stages       []Step // processors, in order
	Sinks        []Step
	DeadLetter   *Step // the dead_letter: sink, nil without one (deadletter.go)

	nameLine int // line of "name:" (or of the first key), for LoadFiles' duplicate check
}

// Step is one entry of sources:, stages: or sinks:.
type Step struct {
	Path   string // "stages[2] (encode)": where it is, for error messages
	Line   int    // line of the entry in File
	Reg    *stages.Registration
	Config stages.Config
	// Pipeline is the name the step's pipeline runs under (stages.Env.Pipeline),
	// set on the steps middleware gets; empty in a loaded Pipeline.
	Pipeline string
	// Spool, on a sink, puts a durable spool in front of it: the sink entry's
	// spool: block, or the defaults for sinks spooled by default (kafka) when
	// the entry has none. nil: no spool.
	Spool *spool.Config
	// spoolImplicit: Spool holds the defaults of a sink spooled by default; it
	// is used only on nodes with a data directory.
	spoolImplicit bool
}
