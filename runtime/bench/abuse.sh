#!/usr/bin/env bash
# The registry under abuse (not part of the test suite): prints a table of what the
# registry did against hostile clients on this machine.
#
#   runtime/bench/abuse.sh          # from the repository root, ~2.5 min
#
# Every scenario runs against a fresh registry process (embedded backend, default
# limits, no GOMEMLIMIT unless stated) so its peak RSS (VmHWM) is its own.
set -euo pipefail
cd "$(dirname "$0")/../.."

WORK=${BENCH_DIR:-$PWD/runtime/bench/.work-abuse}
PORT=${BENCH_PORT:-18090}
URL=http://127.0.0.1:$PORT
PW=abuse-admin-password-0001
rm -rf "$WORK" && mkdir -p "$WORK/bin"
trap 'stop_registry; rm -rf "$WORK"' EXIT

go build -o "$WORK/bin/registry" ./runtime/cmd/registry
go build -o "$WORK/bin/abusetool" ./runtime/bench/abusetool
AT=$WORK/bin/abusetool

BIN=$WORK/bin LOG=$WORK/registry.log
. runtime/bench/lib.sh
kib() { awk "/$1/{print \$2}" "/proc/$PID/status"; }
mib() { echo "scale=1; $1 / 1024" | bc; }
alive() { if curl -fsS -m 5 "$URL/health" >/dev/null 2>&1 && kill -0 "$PID" 2>/dev/null; then echo yes; else echo NO; fi; }

echo "machine: $(nproc) cores, $(uname -sr), $(date -u +%Y-%m-%d)" >&2
ROWS=()

# 1. 1000 connections sending wrong-password logins for 10 s.
flood() { # label, abusetool flags, registry settings...
  local label=$1 flags=$2; shift 2
  start_registry "$WORK/data-$RANDOM" "$@"
  local base; base=$(mib "$(kib VmRSS)")
  local out; out=$("$AT" logins -url "$URL" -password "$PW" -c 1000 -duration 10s $flags)
  echo "$out" >&2
  local hwm; hwm=$(mib "$(kib VmHWM)")
  ROWS+=("| $label | $hwm MiB (idle $base) | $(alive) | p50 $(echo "$out" | field legit_p50_ms) ms, p99 $(echo "$out" | field legit_p99_ms) ms, max $(echo "$out" | field legit_max_ms) ms, $(echo "$out" | field legit_failures) failed of $(echo "$out" | field legit_requests) | $(echo "$out" | grep -o 'status_[^ ]* [0-9]*' | sed 's/status_//' | tr '\n' ' ')| $(echo "$out" | field login_back_after_s) s |")
  stop_registry
}
flood "1000 logins, each from its own address, own names" -spread
flood "same, GOMEMLIMIT=460MiB (a 512 MiB task)" -spread GOMEMLIMIT=460MiB
flood "1000 logins from one address against admin" ""

printf '\n| Flood (10 s) | Peak RSS | Alive | Legitimate GET /packages, 20/s | Attack answers | Admin login back after |\n|---|---|---|---|---|---|\n'
printf '%s\n' "${ROWS[@]}"

# 2. 200 connections trickling a body, one byte every 2 s.
ROWS=()
start_registry "$WORK/data-trickle"
for kind in login upload; do
  flag=; [ $kind = upload ] && flag="-upload -password $PW"
  out=$("$AT" trickle -url "$URL" -c 200 -interval 2s -limit 2m $flag)
  echo "$out" >&2
  deadline="REGISTRY_BODY_TIMEOUT 5s"; [ $kind = upload ] && deadline="REGISTRY_TRANSFER_IDLE_TIMEOUT 30s + min rate 16 KiB/s"
  ROWS+=("| 200 x $kind body, 1 byte / 2 s | min $(echo "$out" | field open_min_s) s, median $(echo "$out" | field open_median_s) s, max $(echo "$out" | field open_max_s) s; $(echo "$out" | field still_open_after_limit) open after 2 min | $(echo "$out" | grep -o 'status_[^ ]* [0-9]*' | sed 's/status_//' | tr '\n' ' ')| $deadline |")
done
ROWS+=("| (registry alive afterwards) | $(alive) | | |")
stop_registry
printf '\n| Trickle | Connection open for | Answers | Configured deadline |\n|---|---|---|---|\n'
printf '%s\n' "${ROWS[@]}"

# 3. One token hammered by 8 connections for 5 s.
start_registry "$WORK/data-throttle"
out=$("$AT" throttle -url "$URL" -password "$PW" -c 8 -duration 5s)
echo "$out" >&2
stop_registry
printf '\n| Throttled client (1 token, 8 connections, 5 s) | Result | Configured |\n|---|---|---|\n'
printf '| 200 answers | %s/s | token 25/s, burst 50 |\n' "$(echo "$out" | field ok_per_s)"
printf '| 429 answers | %s/s (Retry-After %s s) | address 100/s, burst 200 |\n' "$(echo "$out" | field throttled_per_s)" "$(echo "$out" | field retry_after)"
