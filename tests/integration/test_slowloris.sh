#!/usr/bin/env bash
# test_slowloris.sh: slow clients cannot starve others (docs/SECURITY.md "HTTP limits").
#
# 1. Header deadline: with read_header_timeout 2s, a python3 client opens 100 connections
#    and sends each one's request line and headers a byte at a time (one byte per
#    connection every 0.5 s, so libmicrohttpd's idle timeout never fires). While they are
#    open, normal requests keep succeeding in well under a second, and every slow
#    connection is closed by the server within the deadline plus slack.
# 2. Per-IP limit: with max_connections_per_ip 4, a fifth concurrent connection from the
#    same address is refused while four idle ones are open.
# 3. Header size: a request whose headers exceed max_header_bytes is refused (431).
source "$(dirname "$0")/lib.sh"
start() { start_strata "$@" || { not_ok "strata starts"; finish; exit 1; }; }

cat >"$T_DIR/slow.yml" <<YML
server:
  read_header_timeout: 2s
  max_header_bytes: 8KiB
YML
start --config "$T_DIR/slow.yml" --data-dir "$T_DIR/data"

python3 - "$STRATA_PORT" >"$T_DIR/slow.out" 2>&1 <<'PY' &
import socket, sys, time
port, n = int(sys.argv[1]), 100
req = b"GET /api/v1/query?query=up HTTP/1.1\r\nHost: x\r\nUser-Agent: slowloris\r\nX-Pad: " + b"a" * 200 + b"\r\n\r\n"
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setblocking(False)
    socks.append([s, 0, None])  # socket, bytes sent, time closed by the server
start = time.monotonic()
deadline = start + 12  # bounded: the test expects closure after ~2 s
while time.monotonic() < deadline and any(c[2] is None for c in socks):
    for c in socks:
        if c[2] is not None:
            continue
        s = c[0]
        try:
            if s.recv(4096) == b"":
                c[2] = time.monotonic() - start
                continue
        except BlockingIOError:
            pass
        except OSError:
            c[2] = time.monotonic() - start
            continue
        try:
            s.send(req[c[1]:c[1] + 1])
            c[1] += 1
        except OSError:
            c[2] = time.monotonic() - start
    time.sleep(0.5)
closed = [c[2] for c in socks if c[2] is not None]
print("opened", n, "closed", len(closed), "max_close_s", round(max(closed), 2) if closed else -1,
      "max_bytes_sent", max(c[1] for c in socks))
PY
SLOW_PID=$!
sleep 1 # the slow connections are open and dribbling
worst=0
for i in $(seq 1 10); do
  t0=$(date +%s%N)
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$STRATA_URL/api/v1/query?query=up")
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ "$code" = 200 ] || worst=99999
  [ "$ms" -gt "$worst" ] && worst=$ms
  sleep 0.1
done
echo "# normal requests during the attack: worst $worst ms"
check "normal requests succeed quickly during the attack (< 1000 ms)" test "$worst" -lt 1000
wait "$SLOW_PID" || true
cat "$T_DIR/slow.out"
read -r _ opened _ closed _ max_close _ sent <"$T_DIR/slow.out" || true
check "every slow connection was closed by the server" test "${closed:-0}" = 100
check "within the 2 s deadline plus slack (< 5 s)" python3 -c "import sys; sys.exit(0 if 0 < float('${max_close:--1}') < 5 else 1)"
check "slow clients never got their headers through" test "${sent:-999}" -lt 50
curl -s "$STRATA_URL/metrics" >"$T_DIR/metrics"
check "/metrics counts the dropped connections" grep -q '^strata_http_slow_connections_dropped_total 100$' "$T_DIR/metrics"

big=$(python3 -c "print('a' * 9000)")
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$STRATA_URL/-/healthy")
check "headers over max_header_bytes are refused (431)" test "$code" = 431
stop_strata

cat >"$T_DIR/perip.yml" <<YML
server:
  max_connections_per_ip: 4
YML
start --config "$T_DIR/perip.yml" --data-dir "$T_DIR/data2"
python3 - "$STRATA_PORT" >"$T_DIR/perip.out" 2>&1 <<'PY'
import socket, sys, time
port = int(sys.argv[1])
idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(4)]
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
try:
    data = s.recv(100)
except OSError:
    data = b""
print("fifth:", "refused" if not data.startswith(b"HTTP/1.1 200") else "served")
for c in idle:
    c.close()
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
print("after:", "served" if s.recv(100).startswith(b"HTTP/1.1 200") else "refused")
PY
cat "$T_DIR/perip.out"
check "a fifth connection from one IP is refused" grep -q 'fifth: refused' "$T_DIR/perip.out"
check "served again once the others closed" grep -q 'after: served' "$T_DIR/perip.out"
stop_strata
finish
