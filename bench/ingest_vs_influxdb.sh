#!/usr/bin/env bash
# bench/ingest_vs_influxdb.sh: line-protocol ingest, Strata vs InfluxDB 1.6, same run.
#
# Generates unique devops data (scripts/gen_devops.py from ../shared/data), starts a
# Release strata and Debian's influxd on loopback with fresh data dirs, posts the same
# batches of 5,000 lines over keep-alive connections to each (bench_ingest), and prints
# acknowledged samples/s for both and the ratio, plus bytes on disk afterwards.
#
#   bench/ingest_vs_influxdb.sh [HOSTS=1000] [DURATION=1h] [CONNS=4] [ROUNDS=3]
# Each round runs Strata then InfluxDB, each on a fresh data directory; the last lines
# give the median samples/s of each over the rounds and their ratio (one round on a
# shared 2-core VM swings by 30%).
# (1,000 hosts keep one 5,000-line batch within 50 s of data, so concurrent batches
# stay inside the out-of-order window.)
# STRATA_BUILD (default build/release) is the build directory to take strata and
# bench_ingest from. Strata's line also gives applied/s: samples in the store (its
# /metrics) over the time until the consumers caught up with the log.
# Needs: make bench (builds build/release with bench_ingest), Debian influxdb.
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=${1:-1000}; duration=${2:-1h}; conns=${3:-4}; rounds=${4:-3}
shared=${STRATA_SHARED_DATA:-../shared/data}
build=${STRATA_BUILD:-build/release}
bin=$build/cmd/strata
gen=$build/bench/bench_ingest
[ -x "$bin" ] && [ -x "$gen" ] || { echo "run 'make bench' first" >&2; exit 1; }
command -v influxd >/dev/null || { echo "influxd missing: scripts/deps.sh bench" >&2; exit 1; }

work=$(mktemp -d /tmp/strata-bench.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

data="$work/devops.lp"
python3 "$shared/scripts/gen_devops.py" --hosts "$hosts" --duration "$duration" --seed 7 >"$data"
lines=$(wc -l <"$data")
echo "data: $lines lines ($((lines * 10)) samples), $(du -h "$data" | cut -f1)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# InfluxDB 1.6 keeps its own defaults (WAL fsync on every write: wal-fsync-delay = 0s)
ip=$(free_port); bp=$(free_port)
cat >"$work/influx.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$bp"
[meta]
  dir = "$work/influx/meta"
[data]
  dir = "$work/influx/data"
  wal-dir = "$work/influx/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$ip"
  log-enabled = false
[monitor]
  store-enabled = false
CONF

round() {
	# --- Strata
	sp=$(free_port)
	"$bin" serve --listen "127.0.0.1:$sp" --data-dir "$work/strata" --log-level warn >"$work/strata.log" 2>&1 &
	pids+=($!)
	for i in $(seq 1 50); do curl -sf "http://127.0.0.1:$sp/-/ready" >/dev/null && break; sleep 0.2; done
	t0=$(date +%s.%N)
	strata_out=$("$gen" "http://127.0.0.1:$sp/write?precision=ns" "$data" --conns "$conns")
	for i in $(seq 1200); do # until the consumers applied everything (at most 60 s)
	  curl -s "http://127.0.0.1:$sp/metrics" >"$work/metrics"
	  [ "$(awk '/^strata_ingest_log_lag_bytes/ {s += $2} END {print s + 0}' "$work/metrics")" = 0 ] &&
	    break
	  sleep 0.05
	done
	t1=$(date +%s.%N)
	prep=$(sed -n 's/.*prep_seconds=\([0-9.]*\).*/\1/p' <<<"$strata_out")
	applied=$(awk -v t0="$t0" -v t1="$t1" -v prep="${prep:-0}" \
	  '/^strata_tsdb_samples_appended_total/ {printf "%.0f", $2 / (t1 - t0 - prep)}' "$work/metrics")
	echo "strata:   $strata_out applied_per_s=$applied"

	# --- InfluxDB 1.6
	influxd -config "$work/influx.conf" >"$work/influx.log" 2>&1 &
	pids+=($!)
	for i in $(seq 1 100); do curl -sf "http://127.0.0.1:$ip/ping" >/dev/null && break; sleep 0.2; done
	curl -sf -XPOST "http://127.0.0.1:$ip/query" --data-urlencode "q=CREATE DATABASE bench" >/dev/null
	influx_out=$("$gen" "http://127.0.0.1:$ip/write?db=bench&precision=ns" "$data" --conns "$conns")
	echo "influxdb: $influx_out"
}

s_rates=(); i_rates=()
for r in $(seq 1 "$rounds"); do
	rm -rf "$work/strata" "$work/influx"
	round
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	pids=()
	s_rates+=("$(sed -n 's/.*samples_per_s=\([0-9]*\).*/\1/p' <<<"$strata_out")")
	i_rates+=("$(sed -n 's/.*samples_per_s=\([0-9]*\).*/\1/p' <<<"$influx_out")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
s_med=$(median "${s_rates[@]}"); i_med=$(median "${i_rates[@]}")
echo "median over $rounds rounds: strata $s_med samples/s, influxdb $i_med samples/s"
python3 -c "print(f'ratio strata/influxdb = {$s_med/$i_med:.2f}x (per round: ' + ', '.join(f'{s/i:.2f}x' for s, i in zip([${s_rates[*]/%/,}], [${i_rates[*]/%/,}])) + ')')"
echo "disk (last round): strata $(du -sh "$work/strata" | cut -f1), influxdb $(du -sh "$work/influx" | cut -f1)"
