#!/usr/bin/env bash
# test_cluster_roles.sh: roles of one binary on Kafka (cluster.role, docs/SCALING.md):
# two `ingest` nodes and two `store` nodes of one replica group against librdkafka's mock
# cluster (tests/helpers/kafka_mock, the real Kafka protocol over 127.0.0.1).
#  - writes through both ingest nodes are acknowledged (the acknowledged series recorded);
#    every acknowledged series is queryable on exactly one store (union = all, no
#    duplicates), while the consumer group splits the partitions between the stores;
#  - ingest nodes answer query endpoints 503 naming their role;
#  - kill -9 of one store: the other gets every partition and answers for every series;
#  - restart of the killed store: the partitions are rebalanced and nothing acknowledged is
#    missing from the union of the stores.
# Every wait is bounded; the whole script takes about 30-40 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster_lib.sh"
T_START=$(date +%s)

# --- the mock cluster: one broker, topic strata-roles with 4 partitions
start_mock strata-roles
check "mock cluster prints its bootstrap servers" grep -q '^127\.0\.0\.1:[0-9]*$' <<<"$BROKERS"

# start_node_as NAME ROLE: write the node's config and start it
start_node_as() {
  node_config "$2" "$1" strata-it
  start_node "$1"
}

# since T_NS: seconds (one decimal) elapsed since the date +%s%N value T_NS
since() { echo "$((($(date +%s%N) - $1) / 100000000))" | sed 's/.$/.&/'; }


# series NAME: the rt_v series node NAME answers for, one "host/batch" per line, sorted
series() {
  at "$1"
  http GET /api/v1/query --get --data-urlencode 'query=rt_v' --data-urlencode "time=$(date +%s)"
  python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["status"] == "success", d
for r in d["data"]["result"]:
    print("%s/%s" % (r["metric"]["host"], r["metric"]["batch"]))' <"$T_DIR/body" | sort
}

ACKED="$T_DIR/acked"
: >"$ACKED"
# write_batches FROM TO: batches FROM..TO of 25 series each, alternately through i1 and
# i2; the series of every batch answered 204 are appended to $ACKED
write_batches() {
  local b h lp now
  now=$(date +%s)
  for b in $(seq "$1" "$2"); do
    lp=""
    for h in $(seq 1 25); do lp+="rt,host=h$h,batch=b$b v=$b $((now - 5))"$'\n'; done
    if [ $((b % 2)) = 0 ]; then at i1; else at i2; fi
    http POST "/write?precision=s" --data-binary "$lp"
    if [ "$HTTP_CODE" = 204 ]; then
      for h in $(seq 1 25); do echo "h$h/b$b"; done >>"$ACKED"
    else
      echo "  batch $b: $HTTP_CODE ${BODY:0:200}"
    fi
  done
  sort -o "$ACKED" "$ACKED"
}

# exactly_once: every acknowledged series is on exactly one of s1 and s2 (within 20 s)
exactly_once() {
  local i
  for i in $(seq 1 100); do
    series s1 >"$T_DIR/s1.series"
    series s2 >"$T_DIR/s2.series"
    if sort "$T_DIR/s1.series" "$T_DIR/s2.series" | cmp -s - "$ACKED"; then
      return 0
    fi
    sleep 0.2
  done
  echo "  acked $(wc -l <"$ACKED"), s1 $(wc -l <"$T_DIR/s1.series"), s2 $(wc -l <"$T_DIR/s2.series"), on both $(comm -12 "$T_DIR/s1.series" "$T_DIR/s2.series" | wc -l)"
  return 1
}

# has_all NAME...: the union of the nodes' series equals the acknowledged set (within 30 s)
has_all() {
  local n
  for _ in $(seq 1 150); do
    for n in "$@"; do series "$n"; done | sort -u >"$T_DIR/union.series"
    cmp -s "$T_DIR/union.series" "$ACKED" && return 0
    sleep 0.2
  done
  echo "  acked $(wc -l <"$ACKED"), $* answer $(wc -l <"$T_DIR/union.series"); missing: $(comm -23 "$ACKED" "$T_DIR/union.series" | head -3 | tr '\n' ' ')"
  return 1
}

# --- config errors
cat >"$T_DIR/local-store.yml" <<'YML'
cluster:
  role: store
YML
out=$("$STRATA_BIN" serve --config "$T_DIR/local-store.yml" --data-dir "$T_DIR/x" 2>&1 || true)
check "role store on the embedded log is refused at file:line:col" \
  grep -q "local-store.yml:2:9: cluster.role: 'store' needs ingest.backend: kafka" <<<"$out"
cat >"$T_DIR/query-role.yml" <<'YML'
cluster:
  role: query
YML
out=$("$STRATA_BIN" serve --config "$T_DIR/query-role.yml" --data-dir "$T_DIR/x" 2>&1 || true)
check "role query without cluster.stores is refused" \
  grep -q "query-role.yml:2:9: cluster.role: 'query' needs cluster.stores" <<<"$out"

# --- two stores of replica group a, then two ingest nodes
start_node_as s1 store
start_node_as s2 store
start_node_as i1 ingest
start_node_as i2 ingest
check "store s1 is ready" wait_ready s1
check "store s2 is ready" wait_ready s2
check "ingest i1 is ready" wait_ready i1
check "ingest i2 is ready" wait_ready i2
check "the consumer group splits the 4 partitions 2 + 2" wait_owned s1 2 s2 2
check "ingest nodes own no partition" test "$(owned i1)" = 0
check "an ingest node keeps no data directory" test ! -e "$T_DIR/i1"

at i1
http GET /api/v1/query --get --data-urlencode 'query=up'
check "an ingest node answers queries 503 (got $HTTP_CODE)" test "$HTTP_CODE" = 503
check "... naming its role (${BODY:0:200})" grep -q "this node has role ingest" <<<"$BODY"

write_batches 1 40
check "writes through both ingest nodes are acknowledged ($(wc -l <"$ACKED") series)" \
  test "$(wc -l <"$ACKED")" = 1000
check "every acknowledged series is on exactly one store" exactly_once
check "both stores hold data" test -s "$T_DIR/s1.series" -a -s "$T_DIR/s2.series"

# --- kill -9 store s1: s2 takes every partition and catches up
kill -9 "${NODE_PID[s1]}"
t_kill=$(date +%s%N)
wait "${NODE_PID[s1]}" 2>/dev/null || true
unset 'NODE_PID[s1]'
write_batches 41 60
check "writes go on while a store is down ($(wc -l <"$ACKED") series)" \
  test "$(wc -l <"$ACKED")" = 1500
owned_s2() { [ "$(owned s2)" = 4 ]; }
ok_s2=1
for _ in $(seq 1 300); do owned_s2 && { ok_s2=0; break; }; sleep 0.1; done
check "s2 gets all 4 partitions after s1's session expired ($(since "$t_kill") s after the kill)" \
  test "$ok_s2" = 0
check "s2 alone answers for every acknowledged series" has_all s2
echo "# s2 answered for all $(wc -l <"$ACKED") series $(since "$t_kill") s after the kill"

# --- restart s1 on its data directory: rebalanced, nothing missing
t_restart=$(date +%s%N)
start_node_as s1 store
check "s1 is ready again" wait_ready s1
check "the partitions are rebalanced 2 + 2" wait_owned s1 2 s2 2
echo "# rebalanced 2 + 2 $(since "$t_restart") s after the restart"
write_batches 61 80
check "writes after the rebalance are acknowledged ($(wc -l <"$ACKED") series)" \
  test "$(wc -l <"$ACKED")" = 2000
check "nothing acknowledged is missing from the union of the stores" has_all s1 s2
check "the restarted store answers for its partitions again" test "$(series s1 | wc -l)" -gt 0

# --- clean stops (a store leaves its group)
for n in s1 s2 i1 i2; do
  STRATA_PID=${NODE_PID[$n]}
  check "$n exits 0 on SIGTERM" stop_strata TERM
  unset "NODE_PID[$n]"
done
elapsed=$(($(date +%s) - T_START))
check "the test stays under 60 s (${elapsed} s)" test "$elapsed" -lt 60

finish
