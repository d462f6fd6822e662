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

PEER_PIDS="" # peers started by start_peer and not yet stopped

cleanup() {
  local pid
  for pid in $PEER_PIDS; do
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  done
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

# eventually DESCRIPTION SECONDS PYTHON_CHECK COMMAND...: run COMMAND (http, or a function
# that calls it, so it sets BODY) every 0.25 s until `python3 -c PYTHON_CHECK "$BODY"`
# succeeds, for at most SECONDS. Ingest may apply samples a moment after they were
# written (the partitioned log), so reads that expect them are retried, bounded.
eventually() {
  local desc=$1 secs=$2 check=$3 i; shift 3
  for i in $(seq 1 $((secs * 4))); do
    "$@"
    if python3 -c "$check" "$BODY" 2>/dev/null; then ok "$desc"; return 0; fi
    sleep 0.25
  done
  not_ok "$desc (last answer: ${BODY:0:300})"
  return 1
}

# free_port: print a TCP port that is free on 127.0.0.1 now (something else may take it
# before it is used; start_peer retries).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_peer NAME READY_PATH POLLS INTERVAL LAUNCH: start a real peer server (Debian's
# prometheus, node_exporter, ...) on a free 127.0.0.1 port. Up to 3 times: pick a port,
# run `LAUNCH PORT` in the background with its output in $T_DIR/NAME.log, and poll
# http://127.0.0.1:PORT/READY_PATH (at most POLLS times, INTERVAL seconds apart, while the
# process lives) until it answers 2xx. LAUNCH is a shell function that writes what the
# server needs and ends by exec-ing it, so that the background PID is the server's. Sets
# PEER_PORT and PEER_PID; the server is killed on exit unless stop_peer stopped it.
start_peer() {
  local name=$1 ready=$2 polls=$3 interval=$4 launch=$5 try i
  for try in 1 2 3; do
    PEER_PORT=$(free_port)
    "$launch" "$PEER_PORT" >"$T_DIR/$name.log" 2>&1 &
    PEER_PID=$!
    PEER_PIDS="$PEER_PIDS $PEER_PID"
    for i in $(seq 1 "$polls"); do
      if curl -sf --max-time 2 "http://127.0.0.1:$PEER_PORT$ready" -o /dev/null; then return 0; fi
      kill -0 "$PEER_PID" 2>/dev/null || break
      sleep "$interval"
    done
    stop_peer "$PEER_PID" KILL
  done
  echo "$name did not start:"; cat "$T_DIR/$name.log"; return 1
}

# stop_peer PID [SIGNAL]: send SIGNAL (default TERM) to a start_peer server, wait up to
# 10 s for it to exit, then SIGKILL it.
stop_peer() {
  local pid=$1 sig=${2:-TERM} i
  kill -"$sig" "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  PEER_PIDS=$(echo " $PEER_PIDS " | sed "s/ $pid / /")
}

finish() {
  echo "$T_PASS passed, $T_FAIL failed"
  [ "$T_FAIL" -eq 0 ]
}
