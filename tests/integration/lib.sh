# tests/integration/lib.sh: helpers for integration tests that run the real binary.
# Source it; it expects STRATA_BIN (set by ctest). Every server is started on
# 127.0.0.1 port 0 (the kernel picks a free port) and the port is read from the banner.

set -euo pipefail
: "${STRATA_BIN:?STRATA_BIN must point at the strata binary}"

T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/strata-it.XXXXXX")
T_PASS=0
T_FAIL=0
STRATA_PID=""
STRATA_PORT=""
STRATA_URL=""

cleanup() {
  if [ -n "$STRATA_PID" ] && kill -0 "$STRATA_PID" 2>/dev/null; then
    kill -9 "$STRATA_PID" 2>/dev/null || true
  fi
  if [ "$T_FAIL" -eq 0 ]; then rm -rf "$T_DIR"; else echo "kept $T_DIR for inspection"; fi
}
trap cleanup EXIT

ok() { T_PASS=$((T_PASS + 1)); echo "ok - $*"; }
not_ok() { T_FAIL=$((T_FAIL + 1)); echo "not ok - $*"; }

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }

# start_strata [ARGS...]: start `strata serve` with a fresh data dir unless given one.
start_strata() {
  local log="$T_DIR/strata.$(date +%s%N).log"
  STRATA_LOG=$log
  : >"$log" # exists before the server starts, so the polling below can read it
  "$STRATA_BIN" serve --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  STRATA_PID=$!
  local i
  for i in $(seq 1 100); do
    STRATA_PORT=$(sed -n 's#.*listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$log" | head -n1)
    [ -n "$STRATA_PORT" ] && break
    if ! kill -0 "$STRATA_PID" 2>/dev/null; then
      echo "strata exited during start:"; cat "$log"; return 1
    fi
    sleep 0.1
  done
  [ -n "$STRATA_PORT" ] || { echo "strata did not start:"; cat "$log"; return 1; }
  STRATA_URL="http://127.0.0.1:$STRATA_PORT"
}

# stop_strata [SIGNAL]: stop the server (default TERM) and return its exit status; a
# server still running after 30 s is killed with SIGKILL and the call returns 124.
stop_strata() {
  local sig=${1:-TERM} rc=0 i
  kill -"$sig" "$STRATA_PID" 2>/dev/null || true
  for i in $(seq 1 300); do kill -0 "$STRATA_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$STRATA_PID" 2>/dev/null; then
    echo "strata did not exit within 30 s of SIG$sig; killing it" >&2
    kill -9 "$STRATA_PID" 2>/dev/null || true
    wait "$STRATA_PID" 2>/dev/null || true
    STRATA_PID=""
    return 124
  fi
  wait "$STRATA_PID" 2>/dev/null || rc=$?
  STRATA_PID=""
  return $rc
}

# http METHOD PATH [curl args...]: sets HTTP_CODE and BODY (call it directly, not in $()).
http() {
  local method=$1 path=$2; shift 2
  local out="$T_DIR/body"
  HTTP_CODE=$(curl -s -o "$out" -w '%{http_code}' -X "$method" --max-time 30 "$@" "$STRATA_URL$path" || true)
  BODY=$(cat "$out" 2>/dev/null || true)
}

finish() {
  echo "$T_PASS passed, $T_FAIL failed"
  [ "$T_FAIL" -eq 0 ]
}
