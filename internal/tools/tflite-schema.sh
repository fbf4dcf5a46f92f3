#!/usr/bin/env bash
# tflite-schema.sh — regenerate internal/tflite/schema from Debian's packages:
#   1. TensorFlow Lite's schema (Apache-2.0, TensorFlow 1.15 level) from
#      Debian's armnn source package (third-party/tensorflow/schema.fbs, added
#      by debian/patches/add-schema.fbs-and-generate-header.patch);
#   2. edgeflow's extensions (internal/tflite/schema/extensions.patch: newer
#      upstream fields at upstream's field ids) applied on top -> schema.fbs;
#   3. Go code from Debian's flatbuffers-compiler (flatc --go).
# Needs root and apt the first time (installs flatbuffers-compiler and
# dpkg-dev, adds a deb-src entry for bookworm). Run from anywhere; `go generate
# ./internal/tflite/schema` runs it too.
#
# Environment:
#   EDGEFLOW_CACHE  cache folder for the armnn source (default <repo>/.cache)
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${EDGEFLOW_CACHE:-$REPO_ROOT/.cache}
OUT=$REPO_ROOT/internal/tflite/schema
SRC_DIR=$CACHE/armnn-source

die() { echo "tflite-schema.sh: $*" >&2; exit 1; }

as_root() {
	if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		die "needs root for: $*"
	fi
}

install_tools() {
	command -v apt-get >/dev/null || die "apt-get is unavailable (Debian's packages are the source)"
	local need=()
	command -v flatc >/dev/null || need+=(flatbuffers-compiler)
	command -v dpkg-source >/dev/null || need+=(dpkg-dev)
	command -v patch >/dev/null || need+=(patch)
	if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		echo "tflite-schema.sh: adding a deb-src entry for bookworm" >&2
		as_root tee /etc/apt/sources.list.d/edgeflow-src.sources >/dev/null <<-'SRC'
			Types: deb-src
			URIs: http://deb.debian.org/debian
			Suites: bookworm
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		SRC
		as_root apt-get update -q
	fi
	if ((${#need[@]})); then
		as_root apt-get install -y -q "${need[@]}"
	fi
}

fetch_schema() {
	local fbs
	fbs=$(find "$SRC_DIR" -path '*/third-party/tensorflow/schema.fbs' -not -path '*/.pc/*' 2>/dev/null | head -1)
	if [[ -z $fbs ]]; then
		mkdir -p "$SRC_DIR"
		(cd "$SRC_DIR" && apt-get source -q armnn >&2) || die "apt-get source armnn failed"
		fbs=$(find "$SRC_DIR" -path '*/third-party/tensorflow/schema.fbs' -not -path '*/.pc/*' | head -1)
		[[ -n $fbs ]] || die "no third-party/tensorflow/schema.fbs in the armnn source"
	fi
	echo "$fbs"
}

main() {
	install_tools
	local fbs
	fbs=$(fetch_schema)
	WORK=$(mktemp -d)
	trap 'rm -rf "$WORK"' EXIT
	local work=$WORK
	cp "$fbs" "$work/schema.fbs"
	(cd "$work" && patch -s -p1 <"$OUT/extensions.patch") || die "extensions.patch does not apply to $fbs"
	flatc --go --go-namespace schema -o "$work/gen" "$work/schema.fbs"
	find "$OUT" -maxdepth 1 -name '*.go' ! -name 'doc.go' ! -name '*_test.go' -delete
	cp "$work/gen/schema/"*.go "$OUT/"
	cp "$work/schema.fbs" "$OUT/schema.fbs"
	gofmt -l "$OUT" | xargs -r gofmt -w
	echo "tflite-schema.sh: $(ls "$OUT"/*.go | wc -l) Go files in $OUT from $(flatc --version)" >&2
}

main "$@"
