#!/usr/bin/env bash
# test.sh — what `make test` runs: every edgeflow test against a real Kafka
# broker, a real Mosquitto and a real Jaeger trace backend. Starts them (unless
# already running, in which case they are left running afterwards; Jaeger is
# built from the Go module proxy on the first run, while Kafka starts), runs
# `go test -race ./...` plus the nested modules' checks and the ARM tests under
# qemu (test-arm.sh), prints a summary and
# exits with the tests' status.
#
# Environment: GO (go binary), GOTEST_FLAGS (extra go test flags, e.g. -run X),
# EDGEFLOW_CACHE, KAFKA_VERSION, KAFKA_PORT, MQTT_PORT, JAEGER_OTLP_GRPC_PORT,
# JAEGER_QUERY_PORT (see kafka.sh, mosquitto.sh, jaeger.sh).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
REPO_ROOT=$PWD
TOOLS=$REPO_ROOT/internal/tools
GO=${GO:-go}
KAFKA_PORT=${KAFKA_PORT:-9092}
MQTT_PORT=${MQTT_PORT:-1883}
JAEGER_OTLP_GRPC_PORT=${JAEGER_OTLP_GRPC_PORT:-4317}
JAEGER_QUERY_PORT=${JAEGER_QUERY_PORT:-16686}
export EDGEFLOW_CACHE=${EDGEFLOW_CACHE:-$REPO_ROOT/.cache}
export KAFKA_PORT MQTT_PORT JAEGER_OTLP_GRPC_PORT JAEGER_QUERY_PORT GO
export EDGEFLOW_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export EDGEFLOW_MQTT_URL=tcp://127.0.0.1:$MQTT_PORT
export EDGEFLOW_OTLP_ENDPOINT=127.0.0.1:$JAEGER_OTLP_GRPC_PORT
export EDGEFLOW_JAEGER_URL=http://127.0.0.1:$JAEGER_QUERY_PORT

started=()
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	local s
	for s in "${started[@]}"; do
		bash "$TOOLS/$s.sh" down || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n==> %s\n' "$*"; }

start_service() {
	local name=$1
	if bash "$TOOLS/$name.sh" status >/dev/null 2>&1; then
		echo "$name: already running, leaving it running afterwards"
		return 0
	fi
	if ! bash "$TOOLS/$name.sh" up; then
		echo "test.sh: could not start $name" >&2
		return 1
	fi
	started+=("$name")
}

t0=$SECONDS
step "services"
# Building Jaeger (minutes on a clean machine, then cached) overlaps with Kafka's start.
jaeger_build_log=$(mktemp "${TMPDIR:-/tmp}/edgeflow-jaeger-build.XXXXXX")
bash "$TOOLS/jaeger.sh" build >"$jaeger_build_log" 2>&1 &
jaeger_build=$!
start_service kafka || exit 1
start_service mosquitto || exit 1
jaeger_build_status=0
wait "$jaeger_build" || jaeger_build_status=$?
cat "$jaeger_build_log"
rm -f "$jaeger_build_log"
((jaeger_build_status == 0)) || exit 1
start_service jaeger || exit 1
echo "EDGEFLOW_KAFKA_BROKERS=$EDGEFLOW_KAFKA_BROKERS EDGEFLOW_MQTT_URL=$EDGEFLOW_MQTT_URL"
echo "EDGEFLOW_OTLP_ENDPOINT=$EDGEFLOW_OTLP_ENDPOINT EDGEFLOW_JAEGER_URL=$EDGEFLOW_JAEGER_URL (up in $((SECONDS - t0))s)"

log=$(mktemp "${TMPDIR:-/tmp}/edgeflow-test.XXXXXX")
step "go test -race ./... (log: $log)"
t1=$SECONDS
# shellcheck disable=SC2086
"$GO" test -race -count=1 -timeout 30m ${GOTEST_FLAGS:-} ./... 2>&1 | tee "$log"
test_status=${PIPESTATUS[0]}
test_secs=$((SECONDS - t1))

# Nested modules (tools with their own go.mod) are vetted and tested on their own;
# a module that only pins a Go tool (internal/tools/jaeger) has no packages to check.
nested_status=0
while IFS= read -r mod; do
	dir=$(dirname "$mod")
	if [[ -z $(find "$dir" -name '*.go' -print -quit) ]]; then
		continue
	fi
	step "nested module $dir: go vet + go test"
	if ! (cd "$dir" && "$GO" vet ./... && "$GO" test -count=1 ./...); then
		nested_status=1
		echo "FAIL nested module $dir"
	fi
done < <(find . -name go.mod -not -path ./go.mod -not -path './.cache/*' -not -path './.git/*' | sort)

# ARM: the TensorFlow Lite interpreter's NEON kernels and golden models on arm64, and its
# pure-Go kernels on 32-bit ARM, under qemu's user mode (test-arm.sh installs qemu-user;
# with CI=true a missing qemu fails the run). Correctness only, not speed.
arm_status=0
step "ARM under qemu: internal/tools/test-arm.sh"
bash "$TOOLS/test-arm.sh" || arm_status=$?

passed=$(grep -cE '^ok[[:space:]]' "$log")
failed=$(grep -cE '^FAIL[[:space:]]+github\.com/' "$log")
notests=$(grep -cE '^\?[[:space:]].*\[no test files\]' "$log")

step "summary"
echo "go test: ${test_secs}s, exit status $test_status; nested modules: $([[ $nested_status == 0 ]] && echo ok || echo FAILED); ARM: $([[ $arm_status == 0 ]] && echo ok || echo FAILED)"
echo "packages without test files: $notests; total time $((SECONDS - t0))s"
grep -E '^FAIL[[:space:]]+github\.com/' "$log" || true
if ((test_status != 0 && failed == 0)); then
	failed=1 # go test failed before running packages (build error, flags)
fi
echo "packages: $passed passed, $failed failed"
rm -f "$log"

if ((test_status != 0)); then
	exit "$test_status"
fi
if ((nested_status != 0)); then
	exit "$nested_status"
fi
exit "$arm_status"
