# Helpers of the benchmark scripts (sourced). The script sets PORT, URL, PW, BIN (the
# directory holding the built registry) and LOG (its output file).

PID=
# start_registry DATA_DIR [VAR=value ...]: a fresh registry on PORT with the
# administrator password PW and the given settings; returns once /health answers.
start_registry() {
  local data=$1
  shift
  env REGISTRY_ADDR=127.0.0.1:$PORT REGISTRY_DATA_DIR="$data" REGISTRY_ADMIN_PASSWORD=$PW \
    JWT_SECRET=$(head -c 32 /dev/urandom | base64) REGISTRY_LOG_LEVEL=warn "$@" \
    "$BIN/registry" >"$LOG" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -fsS "$URL/health" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "registry did not start" >&2; cat "$LOG" >&2; exit 1
}
stop_registry() { if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; fi; }
# field KEY: the value after KEY in a "<key> <value> ..." line on stdin.
field() { awk -v k="$1" '{for(i=1;i<NF;i++) if($i==k) {print $(i+1); exit}}'; }
