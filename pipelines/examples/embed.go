package examples

import "embed"

// FS holds every example pipeline file (*.yaml) of this directory.
//
//go:embed *.yaml
var FS embed.FS

// Demo is demo.yaml, the pipeline edgeflow demo runs on each simulated node.
//
//go:embed demo.yaml
var Demo []byte
