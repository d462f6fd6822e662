#!/usr/bin/env bash
# test_snapshot.sh: POST /api/v1/admin/tsdb/snapshot under load, and restore.
#
# Two writers post line-protocol batches as fast as the server answers (sample time
# advances 2 s per batch with block_duration 1m, so blocks are cut all along) and record
# every batch answered 204. While they write, a snapshot is taken: the acknowledged
# batches are copied just before the request is sent, so each of them must be in the
# snapshot. Then a second server is started with the snapshot directory as its data
# directory (the restore procedure of the README) while the first keeps running: it must
# hold every batch acknowledged before the snapshot, each exactly once, accept new
# writes, and keep them across a SIGKILL (its log continues at the snapshot's offsets).
# Also: skip_head=true answers 200 (that it holds the blocks only is checked by
# tests/tsdb/test_snapshot.c), a bad skip_head is 400, GET is 405. Bounded: at most
# MAX_BATCHES batches per writer.
source "$(dirname "$0")/lib.sh"

start() { start_strata "$@" || { not_ok "strata starts"; finish; exit 1; }; }
wait_ready() {
  local i
  for i in $(seq 1 300); do
    http GET /-/ready
    [ "$HTTP_CODE" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}

SERIES=10
STEP_MS=2000
MAX_BATCHES=3000
DATA="$T_DIR/data"
T0=$(($(date +%s) - 12 * 3600))

cat >"$T_DIR/strata.yml" <<YML
storage:
  block_duration: 1m
ingest:
  partitions: 4
YML

# writer ID URL: batches ID, ID+2, ... until stop exists or MAX_BATCHES were sent.
writer() {
  local id=$1 url=$2 i=$1 n=0 body code
  while [ ! -e "$T_DIR/stop" ] && [ "$n" -lt "$MAX_BATCHES" ]; do
    body=""
    for h in $(seq 0 $((SERIES - 1))); do
      body+="snap,writer=w$id,host=h$h v=$i $((T0 * 1000 + i * STEP_MS))"$'\n'
    done
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -XPOST \
      "$url/write?precision=ms" --data-binary "$body" || true)
    if [ "$code" = 204 ]; then echo "$i" >>"$T_DIR/acked.$id"; else echo "$i $code" >>"$T_DIR/errors"; fi
    i=$((i + 2))
    n=$((n + 1))
  done
}

# verify FILE_PREFIX: every batch listed in FILE_PREFIX.{0,1} is in result.json once.
verify() {
  python3 - "$T_DIR/result.json" "$1" "$SERIES" "$T0" "$STEP_MS" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))
pre, n_series, t0, step = sys.argv[2], *map(int, sys.argv[3:])
want = {f"w{w}": {int(x) for x in open(f"{pre}.{w}").read().split()} for w in (0, 1)}
assert res["status"] == "success", res
series = res["data"]["result"]
assert len(series) == 2 * n_series, f"{len(series)} series"
for s in series:
    seen = {}
    for t, v in s["values"]:
        i = (round(float(t) * 1000) - t0 * 1000) // step
        assert float(v) == i, f"{s['metric']}: {t} {v}"
        seen[i] = seen.get(i, 0) + 1
    assert all(c == 1 for c in seen.values()), f"{s['metric']}: duplicates"
    missing = want[s["metric"]["writer"]] - set(seen)
    assert not missing, f"{s['metric']}: missing batches {sorted(missing)[:10]}"
print(f"{sum(map(len, want.values()))} batches present once")
PY
}

start --config "$T_DIR/strata.yml" --data-dir "$DATA"
URL1=$STRATA_URL
PID1=$STRATA_PID
: >"$T_DIR/acked.0"
: >"$T_DIR/acked.1"
writer 0 "$URL1" & w0=$!
writer 1 "$URL1" & w1=$!
# snapshot once blocks were cut and enough was acknowledged (bounded: 30 s)
for k in $(seq 1 300); do
  sleep 0.1
  [ "$(cat "$T_DIR"/acked.* | wc -l)" -ge 100 ] || continue
  c=$(curl -s --max-time 5 "$URL1/metrics" | sed -n 's/^strata_tsdb_cuts_total \([0-9]*\)$/\1/p')
  [ "${c:-0}" -ge 1 ] && break
done
cp "$T_DIR/acked.0" "$T_DIR/before.0"
cp "$T_DIR/acked.1" "$T_DIR/before.1"
http POST /api/v1/admin/tsdb/snapshot
snap_code=$HTTP_CODE
snap_body=$BODY
sleep 0.5
touch "$T_DIR/stop"
wait "$w0" "$w1" || true
check "snapshot under load answers 200 ($snap_code: $snap_body)" test "$snap_code" = 200
name=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["data"]["name"])' "$snap_body" 2>/dev/null || true)
check "the response names the snapshot ($name)" grep -Eq '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{16}$' <<<"$name"
SNAP="$DATA/snapshots/$name"
check "the snapshot directory exists" test -d "$SNAP/blocks"
check "no write failed meanwhile" test ! -s "$T_DIR/errors"
echo "$(cat "$T_DIR"/before.* | wc -l) batches acknowledged before the snapshot, $(cat "$T_DIR"/acked.* | wc -l) in all"
check "batches were acknowledged before the snapshot" test "$(cat "$T_DIR"/before.* | wc -l)" -gt 20
http GET /metrics
cuts=$(sed -n 's/^strata_tsdb_cuts_total \([0-9]*\)$/\1/p' <<<"$BODY")
check "blocks were cut before the snapshot (${cuts:-?} cuts)" test "${cuts:-0}" -ge 1

http POST "/api/v1/admin/tsdb/snapshot?skip_head=true"
check "skip_head=true answers 200" test "$HTTP_CODE" = 200
name2=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["data"]["name"])' "$BODY" 2>/dev/null || true)
check "the skip_head snapshot exists ($name2)" test -d "$DATA/snapshots/$name2/blocks"
http POST "/api/v1/admin/tsdb/snapshot?skip_head=maybe"
check "a bad skip_head is 400 naming it" grep -q skip_head <<<"$BODY"
check "a bad skip_head is 400" test "$HTTP_CODE" = 400
http GET /api/v1/admin/tsdb/snapshot
check "GET is not allowed" test "$HTTP_CODE" = 405

# --- restore: a second server on the snapshot directory, the first still running
start --config "$T_DIR/strata.yml" --data-dir "$SNAP"
check "the restored server becomes ready" wait_ready
http GET "/api/v1/query?query=snap_v%5B1d%5D&time=$((T0 + 86000))"
echo "$BODY" >"$T_DIR/result.json"
check "restored: every batch acknowledged before the snapshot, once" verify "$T_DIR/before"
now_ms=$(($(date +%s) * 1000))
http POST "/write?precision=ms" --data-binary "restored,host=a v=1 $now_ms"
check "the restored server accepts writes" test "$HTTP_CODE" = 204
kill -9 "$STRATA_PID"
wait "$STRATA_PID" 2>/dev/null || true
STRATA_PID=""
start --config "$T_DIR/strata.yml" --data-dir "$SNAP"
check "the restored server restarts after SIGKILL" wait_ready
http GET "/api/v1/query?query=restored_v&time=$((now_ms / 1000))"
check "a write to the restored server survives SIGKILL" grep -q '"value":\[[0-9.]*,"1"\]' <<<"$BODY"
http GET "/api/v1/query?query=snap_v%5B1d%5D&time=$((T0 + 86000))"
echo "$BODY" >"$T_DIR/result.json"
check "restored after restart: still every batch once" verify "$T_DIR/before"
check "restored server stops cleanly" stop_strata TERM

# --- the original server kept everything
STRATA_PID=$PID1
STRATA_URL=$URL1
http GET "/api/v1/query?query=snap_v%5B1d%5D&time=$((T0 + 86000))"
echo "$BODY" >"$T_DIR/result.json"
check "original: every acknowledged batch once" verify "$T_DIR/acked"
check "original server stops cleanly" stop_strata TERM
finish
