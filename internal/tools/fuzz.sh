#!/usr/bin/env bash
# Runs every go test -fuzz target of the edgeflow module, one after another,
# each for FUZZTIME (default 60s): with N targets `make fuzz` takes about N
# minutes plus compile time (the target count is printed first). Only packages
# of the main module are fuzzed: nested modules (internal/tools/benchencode,
# benchschedule, jaeger) are separate modules and not listed by `go list ./...`.
# New failing inputs land in the package's testdata/fuzz/<Target>/: commit
# them with the fix; the committed corpora also run as ordinary tests.
#   bash internal/tools/fuzz.sh                          # all targets, 60 s each
#   FUZZTIME=10m bash internal/tools/fuzz.sh             # longer
#   FUZZPARALLEL=1 bash internal/tools/fuzz.sh           # one fuzzing worker (shared machines)
#   bash internal/tools/fuzz.sh ./stages/encode/frame    # one package
#   bash internal/tools/fuzz.sh ./stages/reading FuzzCSVReader   # one target
set -euo pipefail
cd "$(dirname "$0")/../.."
fuzztime=${FUZZTIME:-60s}
parallel=()
if [ -n "${FUZZPARALLEL:-}" ]; then
	parallel=(-parallel "$FUZZPARALLEL")
fi
only=""
pkgs=()
if [ $# -ge 1 ]; then
	pkgs=("$1")
	only=${2:-}
else
	# Packages of this module whose tests declare a fuzz target.
	while IFS=$'\t' read -r imp dir; do
		if grep -qs '^func Fuzz' "$dir"/*_test.go; then
			pkgs+=("$imp")
		fi
	done < <(go list -f '{{.ImportPath}}{{"\t"}}{{.Dir}}' ./...)
fi
targets=()
for pkg in "${pkgs[@]}"; do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		if [ -z "$only" ] || [ "$target" = "$only" ]; then
			targets+=("$pkg $target")
		fi
	done
done
echo "fuzz: ${#targets[@]} targets, $fuzztime each"
failed=0 ran=0
for t in "${targets[@]}"; do
	read -r pkg target <<<"$t"
	ran=$((ran + 1))
	echo "==> [$ran/${#targets[@]}] $pkg $target ($fuzztime)"
	if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "${parallel[@]}" "$pkg"; then
		failed=$((failed + 1))
		echo "FAIL: $pkg $target"
	fi
done
echo "fuzz: $((ran - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
