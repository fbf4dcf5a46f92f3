package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=v0.1.0".
var version = "dev"

func init() {
	register(command{
		name:    "version",
		summary: "print the edgeflow version and build information",
		usage:   "Usage: edgeflow version\n\nPrints the version, Go version and platform.\n\nExample:\n  edgeflow version",
		run: func(ctx context.Context, args []string, io stdio) error {
			if len(args) > 0 {
				return errUsage
			}
			v := version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
			fmt.Fprintf(io.out, "edgeflow %s %s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	})
}
