#!/usr/bin/env bash
# Regenerate edgeflow's golden TensorFlow Lite outputs from Debian's Arm NN
# (CpuRef back end) into internal/tflite/testdata/golden. See README.md here.
#
#   bash internal/tools/armnn/golden.sh                 # every model
#   bash internal/tools/armnn/golden.sh --only mnist    # one model (repeatable)
#   bash internal/tools/armnn/golden.sh --crosscheck    # also record and compare TFLite's reference kernels
#
# Needs root for apt-get (Debian 12: Arm NN 20.08), Go (to fetch the model
# modules) and ../shared beside the repository.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
shared="${EDGEFLOW_SHARED:-$root/../shared}"
out="$root/internal/tflite/testdata/golden"

crosscheck=0
args=()
for a in "$@"; do
	case "$a" in
	--crosscheck) crosscheck=1 ;;
	*) args+=("$a") ;;
	esac
done

# Debian's packages; apt-cache policy shows the versions (20.08-12 on Debian 12).
pkgs=(python3-pyarmnn libarmnn-cpuref-backend22 libarmnntfliteparser22 python3-pil python3-numpy)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
dpkg-query -W -f='${Package} ${Version}\n' "${pkgs[@]}" >&2

# The models from Go modules: go mod download prints each module's Dir.
modroot="$(mktemp -d)"
trap 'rm -rf "$modroot"' EXIT
(cd "$modroot" && go mod init goldenmodels >/dev/null 2>&1)
moddir() {
	(cd "$modroot" && GOFLAGS=-mod=mod go mod download -json "$1") |
		/usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["Dir"]) if "Dir" in d else sys.exit("go mod download: "+d.get("Error","no Dir"))'
}
v101="$(moddir github.com/mattn/go-tflite@v1.0.1)"
v1010="$(moddir github.com/mattn/go-tflite@v1.0.10)"
[ -d "$shared/models/coral" ] || { echo "golden.sh: $shared/models/coral missing (set EDGEFLOW_SHARED)" >&2; exit 1; }

/usr/bin/python3 "$here/golden.py" --tflite-v1.0.1 "$v101" --tflite-v1.0.10 "$v1010" \
	--shared "$shared" --out "$out" ${args[@]+"${args[@]}"}

if ((crosscheck)); then
	# TFLite's own kernels (LiteRT from PyPI) in a virtualenv that also sees
	# Debian's pyarmnn and numpy (layerdiff.py needs both in one Python).
	venv="${EDGEFLOW_LITERT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/edgeflow-litert-venv}"
	if [ ! -x "$venv/bin/python" ]; then
		/usr/bin/python3 -m venv --system-site-packages "$venv"
		"$venv/bin/pip" install -q ai-edge-litert==2.3.0 "numpy<2"
	fi
	"$venv/bin/python" "$here/crosscheck.py" --tflite-v1.0.1 "$v101" --tflite-v1.0.10 "$v1010" \
		--shared "$shared" --golden "$out" --write
fi
