#!/usr/bin/env bash
# ingest_durable.sh: acknowledged and applied ingest rate of one or more strata binaries.
#
#   bench/ingest_durable.sh FILE CONNS BATCH LABEL=STRATA_BIN[:CONFIG] ...
#
# For every LABEL=BIN (run in turn, ROUNDS times, alternating, so background load hits
# them alike): start `BIN serve` on a fresh data directory (with CONFIG if given), post
# FILE (line protocol, ns precision) with bench_ingest over CONNS keep-alive connections
# in batches of BATCH lines, wait until the consumers applied everything
# (strata_ingest_log_lag_bytes = 0), and print one line:
#   label acked/s (bench_ingest) applied/s (until the store has it all; bench_ingest's
#   data preparation before its clock starts is not counted)
#   cpu_us/sample (the server's user+sys CPU time per stored sample: the figure that
#   stays stable on a shared machine) appends syncs (log records and fdatasyncs)
# BENCH_INGEST (default: bench_ingest next to this build's strata) is the load generator.
# REMOTE_WRITE=N posts FILE as Prometheus remote write requests of N one-sample series to
# /api/v1/write instead (bench_ingest --remote-write; BATCH is ignored then).
# Example (docs/formats/log.md "Measurements"):
#   python3 ../shared/data/scripts/gen_devops.py --hosts 200 --duration 2h --seed 7 \
#     > /tmp/devops.lp
#   printf 'storage:\n  out_of_order_window: 3h\n' > /tmp/ooo.yml
#   bench/ingest_durable.sh /tmp/devops.lp 4 5000 \
#     before=/tmp/before/cmd/strata:/tmp/ooo.yml after=build-rel/cmd/strata:/tmp/ooo.yml
set -euo pipefail
FILE=$1 CONNS=$2 BATCH=$3
shift 3
ROUNDS=${ROUNDS:-3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

run_one() {
  local label=$1 bin=$2 cfg=$3 dir="$WORK/$1" port="" pid i
  rm -rf "$dir"
  mkdir -p "$dir"
  local gen=${BENCH_INGEST:-$(dirname "$bin")/../bench/bench_ingest}
  "$bin" serve --listen 127.0.0.1:0 --data-dir "$dir/data" --log-level warn \
    ${cfg:+--config "$cfg"} >"$dir/log" 2>&1 &
  pid=$!
  for i in $(seq 100); do
    port=$(sed -n 's#.*listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$dir/log" 2>/dev/null |
      head -n1 || true)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "$label: strata did not start"; cat "$dir/log"; kill "$pid"; return 1; }
  local cpu0 t0 r t1 cpu1
  cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  t0=$(date +%s.%N)
  if [ -n "${REMOTE_WRITE:-}" ]; then
    r=$("$gen" "http://127.0.0.1:$port/api/v1/write" "$FILE" --remote-write "$REMOTE_WRITE" \
      --conns "$CONNS" --max-seconds 300)
  else
    r=$("$gen" "http://127.0.0.1:$port/write?precision=ns" "$FILE" --batch "$BATCH" \
      --conns "$CONNS" --max-seconds 300)
  fi
  for i in $(seq 1200); do
    curl -s "http://127.0.0.1:$port/metrics" >"$dir/metrics"
    [ "$(awk '/^strata_ingest_log_lag_bytes/ {s += $2} END {print s + 0}' "$dir/metrics")" = 0 ] &&
      break
    sleep 0.05
  done
  t1=$(date +%s.%N)
  cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill "$pid"
  wait "$pid" || true
  python3 - "$label" "$r" "$dir/metrics" "$t0" "$t1" "$cpu0" "$cpu1" "$(getconf CLK_TCK)" <<'PY'
import sys
label, r, metrics, t0, t1, c0, c1, tck = sys.argv[1:]
kv = dict(x.split("=", 1) for x in r.split() if "=" in x)
m = {}
for line in open(metrics):
    if line.startswith("#") or not line.strip():
        continue
    name, value = line.rsplit(" ", 1)
    name = name.split("{")[0]
    m[name] = m.get(name, 0.0) + float(value)
stored = m.get("strata_tsdb_samples_appended_total", 0.0)
cpu = (float(c1) - float(c0)) / float(tck)
print(f"{label:12s} acked/s={float(kv['samples_per_s']):10.0f} "
      f"applied/s={stored / (float(t1) - float(t0) - float(kv.get('prep_seconds', 0))):10.0f} "
      f"failed={kv['failed']} "
      f"cpu_us/sample={cpu * 1e6 / max(stored, 1):.2f} "
      f"appends={m.get('strata_ingest_log_appends_total', 0):.0f} "
      f"syncs={m.get('strata_ingest_log_syncs_total', 0):.0f}")
PY
}

for round in $(seq "$ROUNDS"); do
  for spec in "$@"; do
    label=${spec%%=*}
    rest=${spec#*=}
    bin=${rest%%:*}
    cfg=""
    [ "$rest" != "$bin" ] && cfg=${rest#*:}
    run_one "$label" "$bin" "$cfg"
  done
done
