#!/usr/bin/env bash
# test_backpressure.sh: when the partitioned log cannot take more, every write endpoint
# answers 503 with Retry-After, nothing is acknowledged, and the server keeps serving
# reads; writes succeed again once the consumers catch up.
#
# 1. Consumer lag: with max_consumer_lag_bytes tiny and one partition, a write sent right
#    after a large one finds the consumer still applying it: 503 + Retry-After naming the
#    bound. Reads work meanwhile, and a retry succeeds once the consumer caught up.
# 2. Pending bytes: with max_pending_bytes tiny, the log fills up with data the store has
#    not persisted (nothing is checkpointed): /write, /api/v2/write, /api/v1/write and
#    /api/v1/import/prometheus all answer 503 + Retry-After; queries, /-/healthy and
#    /metrics keep working.
source "$(dirname "$0")/lib.sh"

# start_strata polls its log with sed, which may run before the server has created the
# file; under `set -e -o pipefail` that would end the script, so call it in a context
# where errexit does not apply (its own checks still fail it).
start() { start_strata "$@" || { not_ok "strata starts"; finish; exit 1; }; }

NOW=$(date +%s)

# A line-protocol body of N lines: host h0..h(N-1), one field, at time T (seconds).
lp_body() {
  local n=$1 t=$2 file=$3
  python3 - "$n" "$t" >"$file" <<'PY'
import sys
n, t = int(sys.argv[1]), int(sys.argv[2])
sys.stdout.write("".join(f"bp,host=h{i},rack=r{i % 17} v={i}.5 {t}\n" for i in range(n)))
PY
}

# --- 1. consumer lag bound
cat >"$T_DIR/lag.yml" <<YML
ingest:
  partitions: 1
  max_consumer_lag_bytes: 4KiB
YML
start --config "$T_DIR/lag.yml" --data-dir "$T_DIR/data-lag"
lp_body 50000 $((NOW - 60)) "$T_DIR/big.lp"
lp_body 10 $((NOW - 30)) "$T_DIR/small.lp"
got=""
for attempt in $(seq 1 10); do
  # the second request follows the first on the same connection at once
  codes=$(curl -s -XPOST "$STRATA_URL/write?precision=s" --data-binary @"$T_DIR/big.lp" \
    -o /dev/null -w '%{http_code} ' \
    --next -s -XPOST "$STRATA_URL/write?precision=s" --data-binary @"$T_DIR/small.lp" \
    -D "$T_DIR/hdrs" -o "$T_DIR/body" -w '%{http_code}')
  if [ "$codes" = "204 503" ]; then got=1; break; fi
  sleep 0.5
done
check "a write behind a large one gets 503 while the consumer lags" test -n "$got"
check "503 has Retry-After" grep -qi '^Retry-After: 1' "$T_DIR/hdrs"
check "503 names the lag bound" grep -q 'max_consumer_lag_bytes 4096' "$T_DIR/body"
http GET "/api/v1/query?query=bp_v&time=$NOW"
check "reads keep working" test "$HTTP_CODE" = 200
ok_again=""
for i in $(seq 1 100); do
  http POST "/write?precision=s" --data-binary @"$T_DIR/small.lp"
  if [ "$HTTP_CODE" = 204 ]; then ok_again=1; break; fi
  sleep 0.1
done
check "writes succeed again once the consumer caught up" test -n "$ok_again"
http GET /metrics
check "/metrics counts the refusals" \
  grep -qE '^strata_ingest_log_busy_total\{partition="0"\} [1-9]' <<<"$BODY"
check "stop exits 0" stop_strata TERM

# --- 2. pending-bytes bound (nothing is checkpointed until the store persists)
cat >"$T_DIR/pending.yml" <<YML
ingest:
  partitions: 1
  max_pending_bytes: 64KiB
YML
start --config "$T_DIR/pending.yml" --data-dir "$T_DIR/data-pending"
lp_body 2000 $((NOW - 60)) "$T_DIR/mid.lp"
code=""
for i in $(seq 1 50); do
  http POST "/write?precision=s" --data-binary @"$T_DIR/mid.lp" -D "$T_DIR/hdrs"
  code=$HTTP_CODE
  [ "$code" = 204 ] || break
done
check "the log fills up: 503" test "$code" = 503
check "/write 503 has Retry-After" grep -qi '^Retry-After: 1' "$T_DIR/hdrs"
check "the message says why" grep -q 'not yet checkpointed' <<<"$BODY"

http POST "/api/v2/write?org=o&bucket=b&precision=s" --data-binary @"$T_DIR/mid.lp" \
  -D "$T_DIR/hdrs"
check "/api/v2/write: 503" test "$HTTP_CODE" = 503
check "/api/v2/write: Retry-After" grep -qi '^Retry-After: 1' "$T_DIR/hdrs"
check "/api/v2/write: v2 error shape" grep -q '"code":"unavailable"' <<<"$BODY"

# a Prometheus remote write request: snappy (literal-only block) of a WriteRequest
python3 - "$T_DIR/rw.bin" "$NOW" <<'PY'
import struct, sys
def uv(n):
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80]); n >>= 7
    return out + bytes([n])
def field(num, wire, payload):
    return uv(num << 3 | wire) + (uv(len(payload)) + payload if wire == 2 else payload)
def label(k, v):
    return field(1, 2, field(1, 2, k.encode()) + field(2, 2, v.encode()))
sample = field(1, 1, struct.pack("<d", 1.0)) + field(2, 0, uv(int(sys.argv[2]) * 1000))
ts = field(1, 2, label("__name__", "rw_metric") + label("job", "x") + field(2, 2, sample))
pb = ts
block = uv(len(pb))
for i in range(0, len(pb), 60):
    chunk = pb[i:i + 60]
    block += bytes([(len(chunk) - 1) << 2]) + chunk
open(sys.argv[1], "wb").write(block)
PY
http POST /api/v1/write --data-binary @"$T_DIR/rw.bin" -D "$T_DIR/hdrs" \
  -H 'Content-Encoding: snappy' -H 'Content-Type: application/x-protobuf' \
  -H 'X-Prometheus-Remote-Write-Version: 0.1.0'
check "/api/v1/write: 503 (Prometheus retries it)" test "$HTTP_CODE" = 503
check "/api/v1/write: Retry-After" grep -qi '^Retry-After: 1' "$T_DIR/hdrs"

http POST /api/v1/import/prometheus --data-binary "imp_metric{a=\"b\"} 1 $((NOW * 1000))
" -D "$T_DIR/hdrs"
check "/api/v1/import/prometheus: 503" test "$HTTP_CODE" = 503
check "/api/v1/import/prometheus: Retry-After" grep -qi '^Retry-After: 1' "$T_DIR/hdrs"

http GET "/api/v1/query?query=bp_v&time=$NOW"
check "queries still answer 200" test "$HTTP_CODE" = 200
http GET "/api/v1/query?query=bp_v%7Bhost%3D%22h7%22%7D&time=$NOW"
check "acknowledged data is readable" grep -q '"host":"h7"' <<<"$BODY"
http GET /-/healthy
check "still healthy" test "$HTTP_CODE" = 200
http GET /metrics
check "/metrics shows the pending bytes" \
  grep -qE '^strata_ingest_log_pending_bytes\{partition="0"\} [0-9]{5,}' <<<"$BODY"
check "stop exits 0" stop_strata TERM

finish
