#!/usr/bin/env bash
# vet.sh — type-checks the cgo back end (internal/tflite/clib and the detect
# stage's backend: tflite, build tag tflite) on a machine without TensorFlow
# Lite's C library or headers: go vet -tags tflite with go-tflite replaced by
# go-tflite/ beside this script, a stand-in with go-tflite v1.0.10's exported
# signatures and no cgo. It checks every call and type, not the library's
# behaviour (make test-tflite-cgo does that where the library is installed).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../../../.."
GO=${GO:-go}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/edgeflow-clib-vet.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp go.mod "$tmp/go.mod"
cp go.sum "$tmp/go.sum"
echo "replace github.com/mattn/go-tflite => $PWD/internal/tflite/clib/typecheck/go-tflite" >>"$tmp/go.mod"
CGO_ENABLED=1 "$GO" vet -modfile="$tmp/go.mod" -tags tflite ./internal/tflite/clib ./stages/detect
echo "go vet -tags tflite (go-tflite stand-in): ok"
