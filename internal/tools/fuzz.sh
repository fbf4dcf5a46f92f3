#!/usr/bin/env bash
# Runs every go test -fuzz target in the module, one after another, each for
# FUZZTIME (default 30s). New failing inputs land in the package's
# testdata/fuzz/<Target>/ — commit them with the fix.
#   bash internal/tools/fuzz.sh                 # all targets, 30 s each
#   FUZZTIME=60s bash internal/tools/fuzz.sh    # longer
#   bash internal/tools/fuzz.sh ./stages/encode/frame   # one package
set -euo pipefail
cd "$(dirname "$0")/../.."
fuzztime=${FUZZTIME:-30s}
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
	mapfile -t pkgs < <(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./.cache/' | xargs -n1 dirname | sort -u)
fi
failed=0 ran=0
for pkg in "${pkgs[@]}"; do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		ran=$((ran + 1))
		echo "==> $pkg $target ($fuzztime)"
		if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"; then
			failed=$((failed + 1))
			echo "FAIL: $pkg $target"
		fi
	done
done
echo "fuzz: $((ran - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
