#!/usr/bin/env bash
# test_cluster_query.sh: the query role (cluster.role query, web/fanout.c) over two store
# nodes on librdkafka's mock cluster (tests/helpers/kafka_mock): 2 ingest + 2 store + 1 query.
#  - the query node's answers equal the union of the stores': count and sum over all series,
#    label values, series, a range query; no warning while every store answers;
#  - a store's internal read API (docs/formats/internal_read.md) refuses bad input;
#  - kill -9 of one store: the query node answers from the other with the warning
#    "store <addr> unavailable: partial result"; both stores down: 503.
# Every wait is bounded; the whole script takes about 15-25 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster_lib.sh"
T_START=$(date +%s)

start_mock strata-query
check "mock cluster prints its bootstrap servers" grep -q '^127\.0\.0\.1:[0-9]*$' <<<"$BROKERS"

# scalar NAME EXPR: the single value of an instant query on node NAME ("" if none)
scalar() {
  at "$1"
  http GET /api/v1/query --get --data-urlencode "query=$2" --data-urlencode "time=$NOW"
  python3 -c '
import json, sys
d = json.load(sys.stdin)
r = d["data"]["result"] if d.get("status") == "success" else []
print(r[0]["value"][1] if r else "")' <"$T_DIR/body"
}

# warnings: the warnings of the last answer, one per line
warnings() { python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin).get("warnings", [])))' <"$T_DIR/body"; }

# strings NAME PATH: the data array of a labels/label values answer, one per line
strings() {
  at "$1"
  http GET "$2"
  python3 -c 'import json,sys; d=json.load(sys.stdin); print("\n".join(d["data"]))' <"$T_DIR/body"
}

# --- nodes: two stores, two ingest nodes, then the query node reading the stores
for n in s1 s2; do node_config store $n strata-itq; start_node $n; done
for n in i1 i2; do node_config ingest $n strata-itq; start_node $n; done
check "store s1 is ready" wait_ready s1
check "store s2 is ready" wait_ready s2
check "the consumer group splits the 4 partitions 2 + 2" wait_owned s1 2 s2 2
cat >"$T_DIR/q1.yml" <<YML
cluster:
  role: query
  node_id: q1
  stores: [${NODE_URL[s1]#http://}, ${NODE_URL[s2]#http://}]
YML
start_node q1
check "query node q1 is ready" wait_ready q1
check "a query node keeps no data directory" test ! -e "$T_DIR/q1"

# --- 20 batches of 25 series (value = batch number), alternately through i1 and i2
NOW=$(date +%s)
acked=0
expect_sum=0
for b in $(seq 1 20); do
  lp=""
  for h in $(seq 1 25); do lp+="fq,host=h$h,batch=b$b v=$b $((NOW - 5))"$'\n'; done
  if [ $((b % 2)) = 0 ]; then at i1; else at i2; fi
  http POST "/write?precision=s" --data-binary "$lp"
  if [ "$HTTP_CODE" = 204 ]; then acked=$((acked + 25)); expect_sum=$((expect_sum + 25 * b)); fi
done
check "writes are acknowledged ($acked series)" test "$acked" = 500
union_ok() {
  for _ in $(seq 1 100); do
    c1=$(scalar s1 'count(fq_v)'); c2=$(scalar s2 'count(fq_v)')
    [ $(( ${c1:-0} + ${c2:-0} )) = 500 ] && return 0
    sleep 0.2
  done
  echo "  s1 counts ${c1:-0}, s2 ${c2:-0}"
  return 1
}
check "the two stores together hold all 500 series" union_ok
check "both stores hold data (s1 $c1, s2 $c2)" test "${c1:-0}" -gt 0 -a "${c2:-0}" -gt 0

# --- the query node answers the union
check "count through q1 is 500" test "$(scalar q1 'count(fq_v)')" = 500
check "... with no warning" test -z "$(warnings)"
s1sum=$(scalar s1 'sum(fq_v)'); s2sum=$(scalar s2 'sum(fq_v)')
qsum=$(scalar q1 'sum(fq_v)')
check "sum through q1 ($qsum) = s1 + s2 ($s1sum + $s2sum) = $expect_sum" \
  test "$qsum" = "$expect_sum" -a "$((s1sum + s2sum))" = "$expect_sum"
check "count by batch has 20 groups of 25" \
  test "$(scalar q1 'count(count by (batch) (fq_v) == 25)')" = 20
strings q1 /api/v1/label/batch/values >"$T_DIR/q.batch"
{ strings s1 /api/v1/label/batch/values; strings s2 /api/v1/label/batch/values; } | sort -u >"$T_DIR/s.batch"
check "label values through q1 equal the stores' union ($(wc -l <"$T_DIR/q.batch"))" \
  cmp -s "$T_DIR/q.batch" "$T_DIR/s.batch"
check "... 20 batches" test "$(wc -l <"$T_DIR/q.batch")" = 20
check "label names through q1 include host and batch" \
  grep -qx host <(strings q1 '/api/v1/labels?match[]=fq_v')
at q1
http GET /api/v1/series --get --data-urlencode 'match[]=fq_v' --data-urlencode 'match[]=fq_v{host="h1"}'
check "series through q1: 500 label sets (each once)" \
  test "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))' <"$T_DIR/body")" = 500
http GET /api/v1/query_range --get --data-urlencode 'query=sum(fq_v)' \
  --data-urlencode "start=$((NOW - 60))" --data-urlencode "end=$NOW" --data-urlencode 'step=15'
check "a range query through q1 sums to $expect_sum at its last step" \
  test "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["result"][0]["values"][-1][1])' <"$T_DIR/body")" = "$expect_sum"
at q1
http GET /api/v1/label/1bad/values
check "label values of an invalid name through q1 is 400 naming it ($HTTP_CODE)" \
  grep -q 'invalid label name: \\"1bad\\"' <<<"$BODY"
http GET /api/v1/label/host/other
check "an unknown label path through q1 is 404 ($HTTP_CODE)" test "$HTTP_CODE" = 404
at s1
http GET /api/v1/label/1bad/values
check "the same on a store: 400 naming it ($HTTP_CODE)" \
  grep -q 'invalid label name: \\"1bad\\"' <<<"$BODY"
at q1
http GET /api/v1/rules
check "other APIs on the query node answer 503 naming the role ($HTTP_CODE)" \
  grep -q "this node has role query" <<<"$BODY"

# --- the stores' internal read API refuses bad input
at s1
http POST /internal/v1/select --data-urlencode 'match=fq_v{' --data 'start=0'
check "internal select: a bad selector is 400 ($HTTP_CODE)" test "$HTTP_CODE" = 400
http POST /internal/v1/select --data-urlencode 'match=fq_v' --data 'start=x'
check "internal select: a bad start is 400 ($HTTP_CODE)" test "$HTTP_CODE" = 400
http POST /internal/v1/select --data-urlencode 'match=fq_v' --data 'max_series=3'
check "internal select: over max_series is 422 ($HTTP_CODE)" test "$HTTP_CODE" = 422
http POST /internal/v1/select --data-urlencode 'match=fq_v' --data 'max_samples=3'
check "internal select: over max_samples is 422 ($HTTP_CODE)" test "$HTTP_CODE" = 422

# --- kill -9 store s2: partial answers with a warning
kill -9 "${NODE_PID[s2]}"
wait "${NODE_PID[s2]}" 2>/dev/null || true
unset 'NODE_PID[s2]'
pc=$(scalar q1 'count(fq_v)')
check "with s2 down q1 answers s1's count ($pc = $c1)" test "$pc" = "$c1"
check "... with the warning 'store ... unavailable: partial result' ($(warnings))" \
  grep -q "^store ${NODE_URL[s2]#http://} unavailable: partial result$" <(warnings)
strings q1 /api/v1/label/batch/values >/dev/null
check "label values with s2 down carry the warning too" grep -q "unavailable: partial result" <(warnings)

# --- both stores down: no answer at all
kill -9 "${NODE_PID[s1]}"
wait "${NODE_PID[s1]}" 2>/dev/null || true
unset 'NODE_PID[s1]'
at q1
http GET /api/v1/query --get --data-urlencode 'query=count(fq_v)'
check "with every store down q1 answers 503 ($HTTP_CODE ${BODY:0:120})" test "$HTTP_CODE" = 503

STRATA_PID=${NODE_PID[q1]}
check "q1 exits 0 on SIGTERM" stop_strata TERM
unset 'NODE_PID[q1]'
elapsed=$(($(date +%s) - T_START))
check "the test stays under 60 s (${elapsed} s)" test "$elapsed" -lt 60
finish
