#!/usr/bin/env bash
# Validator sandbox benchmark (not part of the test suite). Prints a table: latency
# p50/p99 of downloading one 4 KiB package without a validator and the same bytes
# with a trivial validator (the README's allow-by-name example), one request at a
# time, then throughput with as many clients as the pool has sandboxes - all in the
# same run, on the embedded backend, the registry binary itself as the sandbox's
# child (registry -validate), exactly as in production.
#
#   runtime/bench/validators.sh                        # from the repository root
#   BENCH_N=500 BENCH_ROUNDS=3 runtime/bench/validators.sh
#
# BENCH_N downloads per case and round (default 300); BENCH_ROUNDS rounds (default 3),
# the table shows each figure's median over the rounds.
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${BENCH_N:-300}
ROUNDS=${BENCH_ROUNDS:-3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

go build -o "$WORK/registry" ./runtime/cmd/registry
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
VALIDATOR_BENCH_CHILD="$WORK/registry" go test -run '^$' -bench '^BenchmarkDownloadValidator$' \
  -benchtime "${N}x" -count "$ROUNDS" ./runtime/api/ >"$WORK/bench.txt"

awk -v n="$N" -v rounds="$ROUNDS" -v date="$(date -u +%Y-%m-%d)" -v cores="$(nproc)" -v kernel="$(uname -sr)" \
  -v load="$LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg)" '
  # BenchmarkDownloadValidator/<case>-<procs> <N> <value> <unit> <value> <unit> ...
  /^BenchmarkDownloadValidator\// {
    c = $1; sub(/^BenchmarkDownloadValidator\//, "", c); sub(/-[0-9]+$/, "", c)
    for (i = 3; i < NF; i += 2) { k = c SUBSEP $(i + 1); vals[k] = vals[k] " " $i }
  }
  function median(k,    a, m, i, j, t) {
    m = split(vals[k], a, " ")
    if (m == 0) return "-"
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((m + 1) / 2)]
  }
  function row(label, c, p50, p99, rate) {
    printf "%-44s %9s %9s %13s\n", label, p50, p99, rate
  }
  END {
    pool = median("trivial-validator-parallel" SUBSEP "clients") + 0
    printf "validator benchmark, %s: %d cores, %s, load average before/after %s\n", date, cores, kernel, load
    printf "%d downloads per case and round, median of %d rounds, pool size %d\n\n", n, rounds, pool
    row("case", "", "p50 ms", "p99 ms", "downloads/s")
    row("--------------------------------------------", "", "---------", "---------", "-------------")
    row("no validator, 1 at a time", "", median("no-validator" SUBSEP "p50-ms"), median("no-validator" SUBSEP "p99-ms"), "-")
    row("trivial validator, 1 at a time", "", median("trivial-validator" SUBSEP "p50-ms"), median("trivial-validator" SUBSEP "p99-ms"), "-")
    o50 = median("trivial-validator" SUBSEP "p50-ms") - median("no-validator" SUBSEP "p50-ms")
    o99 = median("trivial-validator" SUBSEP "p99-ms") - median("no-validator" SUBSEP "p99-ms")
    row("  validator overhead", "", sprintf("%.2f", o50), sprintf("%.2f", o99), "-")
    row(sprintf("no validator, %d at once", pool), "", median("no-validator-parallel" SUBSEP "p50-ms"), median("no-validator-parallel" SUBSEP "p99-ms"), median("no-validator-parallel" SUBSEP "downloads/s"))
    row(sprintf("trivial validator, %d at once (pool full)", pool), "", median("trivial-validator-parallel" SUBSEP "p50-ms"), median("trivial-validator-parallel" SUBSEP "p99-ms"), median("trivial-validator-parallel" SUBSEP "downloads/s"))
    printf "\ngoal: p99 overhead under 100 ms, one at a time: %s (%.2f ms)\n", (o99 < 100 ? "met" : "NOT met"), o99
  }
' "$WORK/bench.txt"
