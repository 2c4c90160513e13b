#!/usr/bin/env bash
# Measures synth and test-suite wall times on this machine and prints a table.
#   cold synth: go build with an empty build cache, then synth (module cache kept)
#   warm synth: the same again, build cache warm
#   cdktf synth: the CLI path (`cdktf synth`), warm
#   unit / terratest: the two halves of `make test`
# Set BENCH_SKIP_TERRATEST=1 to skip the (slow) terratest row.
set -euo pipefail
cd "$(dirname "$0")/../.."
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CHECKPOINT_DISABLE=1

seconds() { # seconds CMD... : wall time of CMD in seconds (one decimal), output discarded
	local start tenths
	start=$(date +%s%N)
	"$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; return 1; }
	tenths=$((($(date +%s%N) - start + 50000000) / 100000000))
	echo "$((tenths / 10)).$((tenths % 10))"
}

cold_cache=$(mktemp -d)
trap 'rm -rf "$cold_cache"' EXIT
unit_pkgs=$(go list ./... | grep -v -E '/test(/|$)')

rows=()
rows+=("cold synth (empty build cache)|$(GOCACHE=$cold_cache seconds go run main.go)")
rows+=("warm synth (go run main.go)|$(seconds go run main.go)")
rows+=("warm synth (cdktf synth)|$(seconds tools/node_modules/.bin/cdktf synth)")
# shellcheck disable=SC2086
rows+=("unit tests (-race)|$(seconds go test -race -count=1 $unit_pkgs)")
if [ -z "${BENCH_SKIP_TERRATEST:-}" ]; then
	rows+=("terratest suites (emulator)|$(seconds go test -count=1 -timeout 80m ./test/...)")
fi

printf '%-34s %10s\n' "measurement" "seconds"
printf '%-34s %10s\n' "----------------------------------" "----------"
for r in "${rows[@]}"; do printf '%-34s %10s\n' "${r%%|*}" "${r##*|}"; done
echo "machine: $(nproc) cores, $(go version | cut -d' ' -f3), $(terraform version | head -1)"
