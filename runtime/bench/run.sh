#!/usr/bin/env bash
# Registry benchmarks (not part of the test suite). Prints a table.
#
#   runtime/bench/run.sh            # from the repository root
#   BENCH_DIR=/mnt/disk/x runtime/bench/run.sh
#
# BENCH_DIR (default: runtime/bench/.work, on the disk holding the checkout) receives
# ~4 GiB of data while running and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."

BENCH_DIR=${BENCH_DIR:-$PWD/runtime/bench/.work}
PORT=${BENCH_PORT:-18089}
URL=http://127.0.0.1:$PORT
PW=bench-admin-password-0001
rm -rf "$BENCH_DIR" && mkdir -p "$BENCH_DIR/bin"
BARE_PID=
trap 'stop_registry; [ -z "$BARE_PID" ] || kill "$BARE_PID" 2>/dev/null; rm -rf "$BENCH_DIR"' EXIT

go build -o "$BENCH_DIR/bin/registry" ./runtime/cmd/registry
go build -o "$BENCH_DIR/bin/benchtool" ./runtime/bench/benchtool
BT=$BENCH_DIR/bin/benchtool

BIN=$BENCH_DIR/bin LOG=$BENCH_DIR/registry.log
. runtime/bench/lib.sh
# Throughput, not abuse: the 64 latency clients share one address (abuse.sh covers
# the throttles).
NO_THROTTLE=(REGISTRY_RATE_PER_TOKEN=0 REGISTRY_RATE_PER_ADDRESS=0)

echo "machine: $(nproc) cores, $(uname -sr), disk $(df -h "$BENCH_DIR" | awk 'NR==2{print $1}')" >&2

max() { printf '%s\n' "$@" | sort -g | tail -1; }
RUNS=${BENCH_RUNS:-3}

# 1+2. dd baseline and 1 GiB upload through the API, alternating on the
# same disk (RUNS rounds, best of each: the disk is shared and noisy).
# 3. verified download after each upload.
start_registry "$BENCH_DIR/data" "${NO_THROTTLE[@]}"
DDS=() UPS=() DOWNS=()
for i in $(seq "$RUNS"); do
  sync
  t0=$(date +%s.%N)
  dd if=/dev/zero of="$BENCH_DIR/dd.bin" bs=1M count=1024 conv=fdatasync status=none
  t1=$(date +%s.%N)
  rm -f "$BENCH_DIR/dd.bin"
  DDS+=("$(echo "1024 / ($t1 - $t0)" | bc -l)")
  sync
  UPS+=("$("$BT" upload -url "$URL" -password "$PW" -name bench -version "$i" -size $((1 << 30)) | field upload)")
  DOWNS+=("$("$BT" download -url "$URL" -password "$PW" -name bench -version "$i" | field download)")
done
DD=$(max "${DDS[@]}") UP=$(max "${UPS[@]}") DOWN=$(max "${DOWNS[@]}")
echo "dd MiB/s: ${DDS[*]}; upload MiB/s: ${UPS[*]}; download MiB/s: ${DOWNS[*]}" >&2
SHA=$("$BT" sha256 -size $((2 << 30)) | field sha256_single_core)

# 5. metadata GET at 64 concurrent clients, against the ceiling: benchtool bare, a
# net/http handler answering the same JSON bytes with no authentication and no
# storage, driven by the same load generator. Rounds alternate between the two (the
# machine is shared); the best round of each counts.
TOKEN=$(curl -fsS -X PUT "$URL/authenticate" -d '{"user":{"name":"admin","is_admin":true},"secret":{"password":"'"$PW"'"}}' | tr -d '"')
curl -fsS -H "X-Authorization: $TOKEN" "$URL/packages?name=bench&limit=10" >"$BENCH_DIR/answer.json"
BARE_PORT=$((PORT + 1)) BARE_URL=http://127.0.0.1:$((PORT + 1))
"$BT" bare -addr "127.0.0.1:$BARE_PORT" -body "$BENCH_DIR/answer.json" >"$BENCH_DIR/bare.log" 2>&1 &
BARE_PID=$!
for _ in $(seq 100); do grep -q listening "$BENCH_DIR/bare.log" && break; sleep 0.1; done
REG_RPS=() REG_P50=() REG_P99=() BARE_RPS=() BARE_P50=() BARE_P99=()
for i in $(seq "$RUNS"); do
  LAT=$("$BT" latency -url "$URL" -password "$PW" -name bench -c 64 -n 300)
  REG_RPS+=("$(echo "$LAT" | field rps)") REG_P50+=("$(echo "$LAT" | field p50_ms)") REG_P99+=("$(echo "$LAT" | field p99_ms)")
  LAT=$("$BT" latency -url "$BARE_URL" -bare -name bench -c 64 -n 300)
  BARE_RPS+=("$(echo "$LAT" | field rps)") BARE_P50+=("$(echo "$LAT" | field p50_ms)") BARE_P99+=("$(echo "$LAT" | field p99_ms)")
done
kill "$BARE_PID" 2>/dev/null || true; wait "$BARE_PID" 2>/dev/null || true; BARE_PID=
echo "GET req/s registry: ${REG_RPS[*]} (p99 ${REG_P99[*]} ms); bare: ${BARE_RPS[*]} (p99 ${BARE_P99[*]} ms)" >&2
min() { printf '%s\n' "$@" | sort -g | head -1; }
RPS=$(max "${REG_RPS[@]}") P50=$(min "${REG_P50[@]}") P99=$(min "${REG_P99[@]}")
BRPS=$(max "${BARE_RPS[@]}") BP50=$(min "${BARE_P50[@]}") BP99=$(min "${BARE_P99[@]}")
stop_registry
rm -rf "$BENCH_DIR/data"

# 4. peak RSS of a fresh process during a 2 GiB upload
start_registry "$BENCH_DIR/data2" "${NO_THROTTLE[@]}"
"$BT" upload -url "$URL" -password "$PW" -name big -version 1 -size $((2 << 30)) >/dev/null
HWM=$(awk '/VmHWM/{print $2}' "/proc/$PID/status")
stop_registry

pct() { echo "100 * $1 / $2" | bc -l; }
printf '\n| Measurement | Result | Reference | Ratio | Target |\n|---|---|---|---|---|\n'
printf '| 1 GiB upload through the API (best of %s) | %.0f MiB/s | dd conv=fdatasync %.0f MiB/s | %.0f%% | >= 80%% |\n' "$RUNS" "$UP" "$DD" "$(pct "$UP" "$DD")"
printf '| 1 GiB download, verified while streaming | %.0f MiB/s | sha256 single core %.0f MiB/s | %.0f%% | >= 70%% |\n' "$DOWN" "$SHA" "$(pct "$DOWN" "$SHA")"
printf '| Peak RSS (VmHWM) of a fresh process, 2 GiB upload | %.1f MiB | | | <= 64 MiB |\n' "$(echo "$HWM / 1024" | bc -l)"
printf '| Authenticated GET /packages, 64 clients | p50 %.2f ms, p99 %.2f ms | %.0f req/s | | p99 <= 5 ms |\n' "$P50" "$P99" "$RPS"
printf '| Authenticated GET /packages vs bare handler, 64 clients (best of %s) | %.0f req/s, p50 %.2f ms, p99 %.2f ms | bare net/http handler (benchtool bare, same JSON bytes, no auth, no storage) %.0f req/s, p50 %.2f ms, p99 %.2f ms | %.0f%% of req/s, p99 %.2fx | >= 50%%, p99 <= 1.5x |\n' \
  "$RUNS" "$RPS" "$P50" "$P99" "$BRPS" "$BP50" "$BP99" "$(pct "$RPS" "$BRPS")" "$(echo "$P99 / $BP99" | bc -l)"

# 6. AWS calls per request: the registry's handler on the AWS backend, against a local
# emulator (moto), each call counted by a transport in front of the SDK's.
printf '\n'
"$BT" awscalls -n 640 -c 16
