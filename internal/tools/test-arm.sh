#!/usr/bin/env bash
# test-arm.sh — what `make test-arm` runs (and `make test` after the race
# tests): the TensorFlow Lite interpreter's tests on ARM, emulated by qemu's
# user mode on this machine. Correctness only: emulated time says nothing of
# a Raspberry Pi's speed.
#
#   1. arm64 (the NEON kernels): go vet, then under qemu-aarch64 emulating a
#      Cortex-A72 (a Raspberry Pi 4: NEON, no dot-product instructions) the
#      tests of internal/tflite (every kernel against its Go reference, every
#      golden model) and the detect stage's golden and backend tests; and
#      emulating qemu's "max" CPU (which has UDOT) the kernel, convolution
#      and one golden model's tests again, for the UDOT micro-kernel;
#   2. no fused multiply-adds in the interpreter's or the detect stage's arm64 code (they would
#      change float results against TFLite's reference);
#   3. 32-bit ARM (GOARM=7 and GOARM=6, pure-Go kernels): go vet and build,
#      and the kernel and quantized convolution tests under qemu-arm.
#
# Installs Debian's qemu-user when qemu-aarch64 is missing (needs root and
# apt). Without qemu it skips, except with CI=true, where it fails.
#
# Environment: GO (go binary), ARM_TIMEOUT (per test binary, default 6m),
# TFLITE_ARM_SKIP (go test -skip for internal/tflite under emulation).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
GO=${GO:-go}
ARM_TIMEOUT=${ARM_TIMEOUT:-6m}
# TestInvokeAllocations counts allocations (not an architecture question) and
# takes most of a minute emulated; each golden model keeps three of its four
# cases (one random input among them) to stay within a few minutes.
TFLITE_ARM_SKIP=${TFLITE_ARM_SKIP:-TestInvokeAllocations|TestGolden/.*/random2}
# The detect stage's tests that run models; its pipeline tests (Kafka,
# folders, HTTP) do not depend on the architecture.
DETECT_ARM_RUN='TestGoldenThroughStage|TestClassifyGolden|TestPreprocessGolden|TestSSDExample|TestBackend|TestReadingsWindow|TestBadInputs|TestValidate'
# arm64 with UDOT: the kernels, the quantized convolutions, one golden model.
UDOT_RUN='Vector|GEMM|TestConvQuantized|TestConvPackedMatchesPlain|TestGolden/mobilenet_v1_0.25_128_quant/'
# 32-bit ARM: the kernels' tests (pure Go there) and the quantized convolutions.
ARM32_RUN='Vector|GEMM|Widen|Requant|Depthwise|TestConvQuantized|TestConvPackedMatchesPlain|TestMultiplierApply'

step() { printf '\n==> %s\n' "$*"; }
die() {
	echo "test-arm.sh: $*" >&2
	exit 1
}

install_qemu() {
	if command -v qemu-aarch64 >/dev/null && command -v qemu-arm >/dev/null; then
		return 0
	fi
	local why=""
	if ! command -v apt-get >/dev/null; then
		why="qemu-aarch64 is not installed and apt-get is unavailable"
	elif [[ $(id -u) -ne 0 ]]; then
		why="qemu-aarch64 is not installed; run as root or: sudo apt-get install -y qemu-user"
	else
		echo "installing Debian package qemu-user"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null
		apt-get install -y -qq --no-install-recommends qemu-user >/dev/null
		command -v qemu-aarch64 >/dev/null && command -v qemu-arm >/dev/null && return 0
		why="qemu-aarch64 still not found after installing qemu-user"
	fi
	if [[ ${CI:-} == true ]]; then
		die "$why (CI=true: the ARM tests must run)"
	fi
	echo "test-arm.sh: SKIP: $why" >&2
	exit 0
}

t0=$SECONDS
status=0
run() {
	echo "+ $*"
	"$@" || status=1
}

step "arm64: go vet (asmdecl checks the NEON stubs against the assembly)"
run env GOARCH=arm64 "$GO" vet ./internal/tflite/... ./stages/detect

step "arm64: no fused multiply-add in internal/tflite or stages/detect"
bin=$(mktemp "${TMPDIR:-/tmp}/edgeflow-arm64.XXXXXX")
if GOARCH=arm64 "$GO" build -o "$bin" ./cmd/edgeflow; then
	fused=$("$GO" tool objdump -s '(internal/tflite|stages/detect)\.' "$bin" | grep -E '[[:space:]](FMADD|FMSUB|FNMADD|FNMSUB|VFMLA|VFMLS)' || true)
	if [[ -n $fused ]]; then
		echo "fused multiply-adds in the interpreter or the detect stage (round the product with an explicit conversion, see dotF):"
		echo "$fused"
		status=1
	else
		echo "none"
	fi
else
	status=1
fi
rm -f "$bin"

for goarm in 7 6; do
	step "arm GOARM=$goarm: go vet + build"
	run env GOARCH=arm GOARM=$goarm "$GO" vet ./internal/tflite/...
	run env GOARCH=arm GOARM=$goarm "$GO" build ./internal/tflite/... ./stages/detect
done

install_qemu
qemu-aarch64 --version | head -1

# The interpreter's arm64 tests (the longest) run beside the detect stage's and
# the 32-bit ones, one emulator per core; each part's output is printed when
# it ends.
step "under qemu: arm64 (Cortex-A72) internal/tflite (skip: $TFLITE_ARM_SKIP); beside it arm64 (Cortex-A72) stages/detect (run: $DETECT_ARM_RUN), arm64 (max, UDOT) internal/tflite (run: $UDOT_RUN) and GOARM=7 internal/tflite (run: $ARM32_RUN)"
t1=$SECONDS
logs=$(mktemp -d "${TMPDIR:-/tmp}/edgeflow-arm.XXXXXX")
(
	run env GOARCH=arm64 QEMU_CPU=cortex-a72 "$GO" test -exec qemu-aarch64 -count=1 -timeout "$ARM_TIMEOUT" -skip "$TFLITE_ARM_SKIP" ./internal/tflite/...
	echo "arm64 internal/tflite: $((SECONDS - t1))s"
	exit "$status"
) >"$logs/tflite" 2>&1 &
tflite_pid=$!
(
	run env GOARCH=arm64 QEMU_CPU=cortex-a72 "$GO" test -exec qemu-aarch64 -count=1 -timeout "$ARM_TIMEOUT" -run "$DETECT_ARM_RUN" ./stages/detect
	run env GOARCH=arm64 QEMU_CPU=max "$GO" test -exec qemu-aarch64 -count=1 -timeout "$ARM_TIMEOUT" -run "$UDOT_RUN" ./internal/tflite
	run env GOARCH=arm GOARM=7 "$GO" test -exec qemu-arm -count=1 -timeout "$ARM_TIMEOUT" -run "$ARM32_RUN" ./internal/tflite
	echo "arm64 stages/detect, arm64 UDOT internal/tflite, GOARM=7 internal/tflite: $((SECONDS - t1))s"
	exit "$status"
) >"$logs/rest" 2>&1 &
rest_pid=$!
wait "$tflite_pid" || status=1
cat "$logs/tflite"
wait "$rest_pid" || status=1
cat "$logs/rest"
rm -rf "$logs"

step "ARM summary"
echo "ARM checks: $([[ $status == 0 ]] && echo ok || echo FAILED) in $((SECONDS - t0))s"
exit "$status"
