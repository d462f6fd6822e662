#!/usr/bin/env bash
# query_cache_cluster.sh: range-query latency on a query node (cluster.role query) with the
# range-read cache on (q1) and off (q2, query.cache_max_bytes: 0), side by side in one run,
# over 2 stores + 1 ingest node on librdkafka's mock cluster; plus one store's late-marks
# poll (GET /internal/v1/late) that q1 pays per cacheable request and store.
#
#   STRATA_BUILD_DIR=build-rel bench/query_cache_cluster.sh ['PROMQL']
#
# Data: 200 series, one hour at 15 s, ending 10 minutes ago (older than the 1m freshness,
# so every step is cacheable). 21 requests per node, interleaved; the first q1 request (the
# miss) is reported separately, medians over the other 20 (curl time_total, microseconds).
# The build needs the strata and kafka_mock targets. Results: docs/benchmarks.md.
set -u
: "${STRATA_BUILD_DIR:?set STRATA_BUILD_DIR to a (Release) build directory}"
STRATA_BUILD_DIR=$(cd "$STRATA_BUILD_DIR" && pwd)
export STRATA_BIN=${STRATA_BIN:-$STRATA_BUILD_DIR/cmd/strata}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/tests/integration/lib.sh"
source "$ROOT/tests/integration/cluster_lib.sh"
Q=${1:-'sum(rate(bq_v[5m]))'}

start_mock strata-qbench
NODE_EXTRA=$'storage:\n  out_of_order_window: 3h\nquery:\n  cache_freshness: 1m'
for n in s1 s2; do node_config store $n qb; start_node $n; done
node_config ingest i1 qb; start_node i1
wait_ready s1 && wait_ready s2 && wait_owned s1 2 s2 2 || exit 1
for q in q1 q2; do
  mb=256MiB; [ $q = q2 ] && mb=0
  cat >"$T_DIR/$q.yml" <<YML
cluster:
  role: query
  node_id: $q
  stores: [${NODE_URL[s1]#http://}, ${NODE_URL[s2]#http://}]
query:
  cache_freshness: 1m
  cache_max_bytes: $mb
YML
  start_node $q; wait_ready $q || exit 1
done
NOW=$(date +%s); base=$((NOW - 3600 - 600 - NOW % 60))
for i in $(seq 0 239); do
  lp=""
  for h in $(seq 1 200); do lp+="bq,host=h$h v=$((i * h)) $((base + i * 15))"$'\n'; done
  at i1; http POST "/write?precision=s" --data-binary "$lp"
done
# Every write is late for the caches (older than now - freshness): wait until applied.
for _ in $(seq 1 300); do
  at q2; http GET /api/v1/query --get --data-urlencode 'query=count(bq_v)' \
    --data-urlencode "time=$((base + 239 * 15))"
  grep -q '"200"' <<<"$BODY" && break; sleep 0.2
done
sleep 2
us() { awk '{printf "%d\n", $1 * 1e6}'; }
t() {
  curl -s -o /dev/null -w '%{time_total}\n' --get "${NODE_URL[$1]}/api/v1/query_range" \
    --data-urlencode "query=$Q" --data-urlencode "start=$base" \
    --data-urlencode "end=$((base + 3585))" --data-urlencode step=15 | us
}
p() { curl -s -o /dev/null -w '%{time_total}\n' "${NODE_URL[s1]}/internal/v1/late" | us; }
a=(); b=(); c=()
for _ in $(seq 1 21); do a+=($(t q1)); b+=($(t q2)); c+=($(p)); done
med() { printf '%s\n' "$@" | sort -n | sed -n 10p; }
echo "query: $Q"
echo "cache on  (q1): first (miss) ${a[0]} us, median of 20 hits $(med "${a[@]:1}") us"
echo "cache off (q2): median $(med "${b[@]:1}") us"
echo "one store's late poll: median $(med "${c[@]:1}") us"
at q1
http GET /api/v1/query_range --get --data-urlencode "query=$Q" --data-urlencode "start=$base" \
  --data-urlencode "end=$((base + 3585))" --data-urlencode step=15 --data-urlencode stats=1
echo "last q1 answer: $(grep -o '"cache":[a-z]*' <<<"$BODY")"
