#!/usr/bin/env bash
# test_disk_full.sh: a full disk refuses writes (503 naming the disk), never acknowledges
# what is not durable, keeps reads working, corrupts nothing, and ingest resumes once
# space is freed, without a restart.
#
# The data directory is a 16 MiB tmpfs (needs root: `mount -t tmpfs`; the test fails with
# a clear message when mounting is not permitted); a ballast file leaves about 3 MiB
# free. Line-protocol batches of fresh series are posted (so log, head and blocks all
# grow; block_duration 1m and sample time advancing 2 s per batch make the store cut
# blocks too) until writes are refused; then
# reads and /metrics must still answer, the tmpfs is grown to 64 MiB (`mount -o
# remount`), and writes must be accepted again. Finally the server is stopped and
# restarted: every batch that was answered 204 is there exactly once. Bounded:
# MAX_BATCHES batches and DEADLINE_S seconds for the fill.
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

MNT="$T_DIR/mnt"
DATA="$MNT/data"
SERIES=200
STEP_MS=2000
MAX_BATCHES=3000
DEADLINE_S=60
T0=$(($(date +%s) - 12 * 3600))

mkdir -p "$MNT"
if ! mount -t tmpfs -o size=16m tmpfs "$MNT" 2>"$T_DIR/mount.err"; then
  not_ok "mount a 16 MiB tmpfs at $MNT (this test needs root and permission to mount tmpfs: $(cat "$T_DIR/mount.err"))"
  finish
  exit 1
fi
unmount() {
  if [ -n "$STRATA_PID" ] && kill -0 "$STRATA_PID" 2>/dev/null; then
    kill -9 "$STRATA_PID" 2>/dev/null || true
    wait "$STRATA_PID" 2>/dev/null || true
  fi
  umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
  cleanup
}
trap unmount EXIT

cat >"$T_DIR/strata.yml" <<YML
storage:
  block_duration: 1m
ingest:
  partitions: 2
  segment_bytes: 1MiB
YML

# post_batch I: one batch of SERIES fresh series (host label varies per batch) at
# T0 + I * STEP_MS; sets CODE and appends I to acked on 204.
post_batch() {
  local i=$1 body="" h
  for h in $(seq 0 $((SERIES - 1))); do
    body+="full,batch=b$((i % 50)),host=h$h,pad=padding_padding_padding_$((i / 50)) v=$i $((T0 * 1000 + i * STEP_MS))"$'\n'
  done
  CODE=$(curl -s -o "$T_DIR/resp" -w '%{http_code}' --max-time 30 -XPOST \
    "$STRATA_URL/write?precision=ms" --data-binary "$body" || true)
  [ "$CODE" = 204 ] && echo "$i" >>"$T_DIR/acked"
  return 0
}

: >"$T_DIR/acked"
start --config "$T_DIR/strata.yml" --data-dir "$DATA"
check "ready on the small tmpfs" wait_ready
# leave about 3 MiB free, so the log, the head's cuts and the checkpoints all run into
# the full disk within a few hundred batches
free_k=$(df -k --output=avail "$MNT" | tail -n1 | tr -d ' ')
head -c "$(( (free_k - 3072) * 1024 ))" /dev/zero >"$MNT/ballast" 2>/dev/null || true
df -h "$MNT" | tail -n1
i=0
full_code=""
t_end=$(($(date +%s) + DEADLINE_S))
while [ "$i" -lt "$MAX_BATCHES" ] && [ "$(date +%s)" -lt "$t_end" ]; do
  post_batch "$i"
  i=$((i + 1))
  if [ "$CODE" != 204 ]; then
    full_code=$CODE
    cp "$T_DIR/resp" "$T_DIR/full_resp"
    break
  fi
done
echo "fill: $i batches posted, $(wc -l <"$T_DIR/acked") acknowledged, then HTTP ${full_code:-none}: $(cat "$T_DIR/full_resp" 2>/dev/null)"
df -h "$MNT" | tail -n1
check "writes are refused when the disk is full (got ${full_code:-no refusal})" test "$full_code" = 503
check "the refusal names the disk (no space left)" grep -qi "no space\|disk" "$T_DIR/full_resp"
check "the server is still running" kill -0 "$STRATA_PID"
# more refusals while full: never a 2xx for data that is not durable (checked at the
# restart below: every 204 must be there)
for k in 1 2 3 4 5; do post_batch "$i"; i=$((i + 1)); done
check "writes keep being refused or accepted, never a server error ($CODE)" grep -Eq '^(204|503)$' <<<"$CODE"
http GET "/api/v1/query?query=count(count_over_time(full_v%5B1d%5D))&time=$((T0 + 86000))"
check "reads keep working on a full disk ($HTTP_CODE)" test "$HTTP_CODE" = 200
http GET /metrics
check "/metrics keeps working on a full disk" test "$HTTP_CODE" = 200
check "append errors are counted" grep -Eq '^strata_ingest_log_append_errors_total\{partition="[01]"\} [1-9]' <<<"$BODY"
http GET /-/healthy
check "healthy on a full disk" test "$HTTP_CODE" = 200

# --- a crash while the disk is full: the restart (still full) serves every acknowledged
# sample; new writes are refused as before
kill -9 "$STRATA_PID"
wait "$STRATA_PID" 2>/dev/null || true
STRATA_PID=""
start --config "$T_DIR/strata.yml" --data-dir "$DATA"
check "restarts and becomes ready on the full disk" wait_ready
http GET "/api/v1/query?query=count(count_over_time(full_v%5B1d%5D))&time=$((T0 + 86000))"
want=$(( $(sort -u "$T_DIR/acked" | wc -l) * SERIES ))
got=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["data"]["result"]; print(r[0]["value"][1] if r else 0)' "$T_DIR/body" 2>/dev/null || echo "?")
check "after the restart on the full disk all $want acknowledged series are there ($got)" test "$got" -ge "$want"
post_batch "$i"
i=$((i + 1))
check "writes are still refused or accepted after the restart ($CODE)" grep -Eq '^(204|503)$' <<<"$CODE"

# --- free space: ingest resumes without a restart
mount -o remount,size=64m "$MNT"
resumed=""
for k in $(seq 1 100); do
  post_batch "$i"
  i=$((i + 1))
  if [ "$CODE" = 204 ]; then resumed=1; break; fi
  sleep 0.1
done
check "writes are accepted again after space is freed" test -n "$resumed"
for k in $(seq 1 20); do post_batch "$i"; i=$((i + 1)); done
check "writes keep being accepted ($CODE)" test "$CODE" = 204
check "the server kept serving after space was freed" kill -0 "$STRATA_PID"
check "SIGTERM exits 0 after the disk was full" stop_strata TERM
echo "errors the server logged while the disk was full:"
grep -h "level=error\|level=warn" "$T_DIR"/strata.*.log | sed 's/^ts=[^ ]* //' | sort | uniq -c | sort -rn | head -n 8

# --- restart: everything acknowledged is there exactly once, no block quarantined
start --config "$T_DIR/strata.yml" --data-dir "$DATA"
check "ready after the restart" wait_ready
http GET "/api/v1/query?query=full_v%5B1d%5D&time=$((T0 + 86000))"
check "raw query is 200" test "$HTTP_CODE" = 200
echo "$BODY" >"$T_DIR/result.json"
check "every acknowledged batch is present exactly once" python3 - "$T_DIR/result.json" \
  "$T_DIR/acked" "$SERIES" "$T0" "$STEP_MS" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))
acked = {int(x) for x in open(sys.argv[2]).read().split()}
n_series, t0, step = map(int, sys.argv[3:])
assert res["status"] == "success", res
got = {}
for s in res["data"]["result"]:
    for t, v in s["values"]:
        i = (round(float(t) * 1000) - t0 * 1000) // step
        assert float(v) == i, f"{s['metric']}: {t} {v}"
        key = (i, s["metric"]["host"])
        got[key] = got.get(key, 0) + 1
dup = [k for k, c in got.items() if c > 1]
assert not dup, f"duplicates: {dup[:5]}"
missing = [(i, h) for i in acked for h in range(n_series) if (i, f"h{h}") not in got]
assert not missing, f"{len(missing)} acknowledged samples missing, e.g. {missing[:5]}"
print(f"{len(acked)} acknowledged batches ({len(acked) * n_series} samples) present once")
PY
http GET /metrics
check "no block quarantined" grep -q '^strata_tsdb_blocks_quarantined_total 0$' <<<"$BODY"
check "quarantine/ is empty" test -z "$(ls -A "$DATA/quarantine" 2>/dev/null)"
check "SIGTERM exits 0" stop_strata TERM
finish
