#!/usr/bin/env bash
# trace-picture.sh [OUT.png] — the picture of one edgeflow trace in
# docs/observability.md (default OUT: docs/images/trace.png).
#
# Runs the end-to-end trace test (internal/e2e: edgeflow run and edgeflow tail
# as processes, Kafka, Jaeger), takes the trace it checked, renders it from
# Jaeger's query API into an HTML timeline (internal/tools/tracepicture) and
# screenshots that page with headless Chromium. Starts Kafka and Jaeger if they
# are not running (and stops what it started); installs Debian's chromium
# package when it is missing (needs root and apt).
#
# Environment: GO, EDGEFLOW_CACHE, KAFKA_PORT, JAEGER_OTLP_GRPC_PORT,
# JAEGER_QUERY_PORT (see kafka.sh, jaeger.sh), WINDOW (default 1400,760).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPO_ROOT=$PWD
TOOLS=$REPO_ROOT/internal/tools
GO=${GO:-go}
OUT=${1:-docs/images/trace.png}
WINDOW=${WINDOW:-1400,760}
KAFKA_PORT=${KAFKA_PORT:-9092}
JAEGER_OTLP_GRPC_PORT=${JAEGER_OTLP_GRPC_PORT:-4317}
JAEGER_QUERY_PORT=${JAEGER_QUERY_PORT:-16686}
export EDGEFLOW_CACHE=${EDGEFLOW_CACHE:-$REPO_ROOT/.cache}
export KAFKA_PORT JAEGER_OTLP_GRPC_PORT JAEGER_QUERY_PORT GO
export EDGEFLOW_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export EDGEFLOW_OTLP_ENDPOINT=127.0.0.1:$JAEGER_OTLP_GRPC_PORT
export EDGEFLOW_JAEGER_URL=http://127.0.0.1:$JAEGER_QUERY_PORT

log() { printf 'trace-picture.sh: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

started=()
work=$(mktemp -d "${TMPDIR:-/tmp}/edgeflow-trace-picture.XXXXXX")
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	local s
	for s in "${started[@]}"; do
		bash "$TOOLS/$s.sh" down || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

find_chromium() {
	command -v chromium || command -v chromium-browser || return 1
}

if ! find_chromium >/dev/null; then
	command -v apt-get >/dev/null || die "chromium is not installed and apt-get is unavailable"
	[[ $(id -u) -eq 0 ]] || die "chromium is not installed; run as root or: sudo apt-get install -y chromium"
	log "installing Debian package chromium"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
chromium=$(find_chromium) || die "chromium still not found after installing it"

for s in kafka jaeger; do
	if ! bash "$TOOLS/$s.sh" status >/dev/null 2>&1; then
		bash "$TOOLS/$s.sh" up
		started+=("$s")
	fi
done

log "running the end-to-end trace test"
if ! "$GO" test -count=1 -v -run '^TestTraceFromEdgeToCloud$' ./internal/e2e >"$work/test.log" 2>&1; then
	cat "$work/test.log" >&2
	die "the end-to-end trace test failed"
fi
trace_id=$(sed -n 's|.*Jaeger UI: .*/trace/\([0-9a-f]*\).*|\1|p' "$work/test.log" | tail -n 1)
[[ -n $trace_id ]] || {
	cat "$work/test.log" >&2
	die "the test did not log a trace id (Jaeger UI: .../trace/ID)"
}
log "trace $trace_id"

"$GO" run ./internal/tools/tracepicture -jaeger "$EDGEFLOW_JAEGER_URL" -trace "$trace_id" -o "$work/trace.html"
mkdir -p "$(dirname "$OUT")"
# The flags headless Chromium needs on a machine without outside network: no
# background connections, a fresh profile.
"$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync \
	--hide-scrollbars --user-data-dir="$work/profile" --window-size="$WINDOW" \
	--screenshot="$REPO_ROOT/$OUT" "file://$work/trace.html" >"$work/chromium.log" 2>&1 || {
	cat "$work/chromium.log" >&2
	die "chromium could not take the screenshot"
}
[[ -s $OUT ]] || die "no screenshot in $OUT"
log "wrote $OUT ($(du -k "$OUT" | cut -f1) KB) of trace $trace_id"
