#!/usr/bin/env bash
# test_crash.sh: SIGKILL at random moments under full-speed ingest, with frequent block
# cuts, loses no acknowledged sample, duplicates none and corrupts no block.
#
# Storage is set so that the store cuts blocks all the time: block_duration 1m (the
# minimum) and every batch advances sample time by STEP_MS, so the head passes 1.5 x
# block_duration within a few dozen batches and the background worker cuts (and, where
# configured, compacts) blocks while the writers keep appending. Three writers post
# line-protocol batches as fast as the server answers (writer w's batch i = one sample at
# T0 + i * STEP_MS for each of its series) and record every batch answered 204. CYCLES
# times the server is started on the same data directory, runs for a random 0.2 .. 1.4 s
# (kills land during replay, appends, log rolls and block writes) and is killed with
# SIGKILL; just before each kill /metrics is read to count cuts. At the end a clean
# restart must show every acknowledged batch exactly once, no block quarantined
# (strata_tsdb_blocks_quarantined_total 0, quarantine/ empty) and no corrupt block in the
# log. Bounded: CYCLES kills, at most MAX_BATCHES batches per writer per cycle, and a
# 90 s budget for the kill phase.
source "$(dirname "$0")/lib.sh"

start() { start_strata "$@" || { not_ok "strata starts"; finish; exit 1; }; }

CYCLES=${CYCLES:-20}
WRITERS=3
SERIES=10
STEP_MS=2000
MAX_BATCHES=400
BUDGET_S=${BUDGET_S:-90}
DATA="$T_DIR/data"
T0=$(($(date +%s) - 12 * 3600))

cat >"$T_DIR/strata.yml" <<YML
storage:
  block_duration: 1m
ingest:
  partitions: 4
  segment_bytes: 64KiB
YML

# writer ID URL: posts batches ID, ID+WRITERS, ... until the server goes away (or
# MAX_BATCHES were sent); acknowledged ids go to acked.ID, the next id to next.ID.
writer() {
  local id=$1 url=$2 i body code n=0
  i=$(cat "$T_DIR/next.$id")
  while [ "$n" -lt "$MAX_BATCHES" ]; do
    body=""
    for h in $(seq 0 $((SERIES - 1))); do
      body+="crash,writer=w$id,host=h$h v=$i $((T0 * 1000 + i * STEP_MS))"$'\n'
    done
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -XPOST \
      "$url/write?precision=ms" --data-binary "$body" || true)
    case "$code" in
      204) echo "$i" >>"$T_DIR/acked.$id" ;;
      000) break ;; # the server is gone: batch i is retried in the next cycle
      *) echo "writer $id batch $i: HTTP $code" >>"$T_DIR/errors" ;;
    esac
    i=$((i + WRITERS))
    n=$((n + 1))
    echo "$i" >"$T_DIR/next.$id"
  done
}

metric() { sed -n "s/^$1 \([0-9.e+]*\)$/\1/p" <<<"$2" | head -n1; }

for w in $(seq 0 $((WRITERS - 1))); do
  echo "$w" >"$T_DIR/next.$w"
  : >"$T_DIR/acked.$w"
done
cuts=0
compactions=0
has_compaction=0
t_start=$(date +%s)
cycle=0
while [ "$cycle" -lt "$CYCLES" ] && [ $(($(date +%s) - t_start)) -lt "$BUDGET_S" ]; do
  cycle=$((cycle + 1))
  start --config "$T_DIR/strata.yml" --data-dir "$DATA"
  pids=()
  for w in $(seq 0 $((WRITERS - 1))); do
    writer "$w" "$STRATA_URL" &
    pids+=($!)
  done
  sleep "$((RANDOM % 2)).$((RANDOM % 10))"
  sleep 0.2
  m=$(curl -s --max-time 2 "$STRATA_URL/metrics" || true)
  c=$(metric strata_tsdb_cuts_total "$m")
  cuts=$((cuts + ${c:-0}))
  c=$(metric strata_tsdb_compactions_total "$m")
  [ -n "$c" ] && has_compaction=1
  compactions=$((compactions + ${c:-0}))
  if ! kill -9 "$STRATA_PID" 2>/dev/null; then
    not_ok "cycle $cycle: the server was still running at the kill"
    tail -n 40 "$STRATA_LOG"
  fi
  wait "$STRATA_PID" 2>/dev/null || true
  STRATA_PID=""
  wait "${pids[@]}" 2>/dev/null || true
  if grep -qi "corrupt\|quarantin" "$STRATA_LOG"; then
    grep -i "corrupt\|quarantin" "$STRATA_LOG" >>"$T_DIR/corrupt.log"
  fi
done
n_acked=$(cat "$T_DIR"/acked.* | wc -l)
echo "$cycle kills in $(($(date +%s) - t_start)) s, $n_acked batches acknowledged, $cuts cuts and $compactions compactions seen"
check "at least 20 kill cycles ran (got $cycle)" test "$cycle" -ge 20
check "writers got acknowledgements" test "$n_acked" -gt 100
check "blocks were cut while the kills happened ($cuts cuts)" test "$cuts" -ge 5
if [ "$has_compaction" = 1 ]; then
  check "blocks were compacted while the kills happened ($compactions)" test "$compactions" -ge 1
fi
check "no write failed with an HTTP error" test ! -s "$T_DIR/errors"
[ -s "$T_DIR/errors" ] && head "$T_DIR/errors"

# --- clean restart: everything acknowledged is there exactly once, no block is corrupt
start --config "$T_DIR/strata.yml" --data-dir "$DATA"
for i in $(seq 1 300); do
  http GET /-/ready
  [ "$HTTP_CODE" = 200 ] && break
  sleep 0.1
done
check "ready after the replay" test "$HTTP_CODE" = 200
http GET "/api/v1/query?query=crash_v%5B1d%5D&time=$((T0 + 86000))"
check "raw query is 200" test "$HTTP_CODE" = 200
echo "$BODY" >"$T_DIR/result.json"
check "every acknowledged sample is present exactly once" python3 - "$T_DIR/result.json" \
  "$T_DIR" "$WRITERS" "$SERIES" "$T0" "$STEP_MS" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))
d, n_writers, n_series, t0, step = sys.argv[2], *map(int, sys.argv[3:])
acked_by = {f"w{w}": {int(x) for x in open(f"{d}/acked.{w}").read().split()}
            for w in range(n_writers)}
assert res["status"] == "success", res
series = res["data"]["result"]
assert len(series) == n_writers * n_series, f"{len(series)} series"
extra = 0
for s in series:
    seen = {}
    for t, v in s["values"]:
        ms = round(float(t) * 1000)
        i = (ms - t0 * 1000) // step
        assert ms == t0 * 1000 + i * step and float(v) == i, f"{s['metric']}: {t} {v}"
        seen[i] = seen.get(i, 0) + 1
    dup = [i for i, c in seen.items() if c > 1]
    assert not dup, f"{s['metric']}: duplicates at batches {dup[:10]}"
    acked = acked_by[s["metric"]["writer"]]
    missing = acked - set(seen)
    assert not missing, f"{s['metric']}: acknowledged batches missing: {sorted(missing)[:10]}"
    extra += len(set(seen) - acked)
print(f"{sum(map(len, acked_by.values()))} acknowledged batches present once; "
      f"{extra} unacknowledged in-flight samples stored too")
PY
http GET /metrics
q=$(metric strata_tsdb_blocks_quarantined_total "$BODY")
nb=$(metric strata_tsdb_blocks "$BODY")
check "no block quarantined (strata_tsdb_blocks_quarantined_total ${q:-?})" test "${q:-x}" = 0
check "blocks exist after the kills (${nb:-?})" test "${nb:-0}" -gt 0
check "quarantine/ is empty" test -z "$(ls -A "$DATA/quarantine" 2>/dev/null)"
check "no corrupt block was reported in any run" test ! -s "$T_DIR/corrupt.log"
[ -s "$T_DIR/corrupt.log" ] && head "$T_DIR/corrupt.log"
check "SIGTERM exits 0" stop_strata TERM
finish
