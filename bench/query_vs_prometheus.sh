#!/usr/bin/env bash
# bench/query_vs_prometheus.sh: PromQL query latency, Strata vs Prometheus 2.42, same run.
#
# Loads the same fixed-seed dataset (devops data from ../shared/data/scripts/gen_devops.py
# plus synthetic counters and a classic histogram per host) into a Release `strata serve`
# (POST /api/v1/import/prometheus) and into Debian's Prometheus (promtool tsdb
# create-blocks-from openmetrics, then prometheus serving the blocks), both on 127.0.0.1,
# and times query classes over HTTP against both, alternating: instant selector, rate 5m,
# sum by of rate, histogram_quantile, topk, range 1h @ 15s, range 24h @ 5m, label values,
# series, and a repeated dashboard range query (cold vs repeated, for the range cache).
# Prints median and p99 per class and the Strata/Prometheus ratio. The work is done by
# bench/query_vs_prometheus.py (its header has the details).
#
#   bench/query_vs_prometheus.sh [HOSTS=50] [REPS=20] [DURATION=26h] [INTERVAL=60s]
# Needs: make bench (build/release/cmd/strata, or STRATA_BIN=path), scripts/deps.sh bench
# (prometheus, promtool, python3). Takes about 5 minutes at the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=${1:-50}; reps=${2:-20}; duration=${3:-26h}; interval=${4:-60s}
shared=${STRATA_SHARED_DATA:-../shared/data}
bin=${STRATA_BIN:-build/release/cmd/strata}
[ -x "$bin" ] || { echo "$bin missing: run 'make bench' first (or set STRATA_BIN)" >&2; exit 1; }
for t in prometheus promtool python3; do
  command -v "$t" >/dev/null || { echo "$t missing: scripts/deps.sh bench" >&2; exit 1; }
done
exec timeout 1500 python3 bench/query_vs_prometheus.py --strata "$bin" --shared-data "$shared" \
  --hosts "$hosts" --reps "$reps" --duration "$duration" --interval "$interval" --deadline 1400
