#!/usr/bin/env bash
# cluster_lib.sh: the multi-node harness of the cluster tests (test_cluster_roles.sh,
# test_cluster_query.sh), sourced after lib.sh: librdkafka's mock cluster
# (tests/helpers/kafka_mock) and Strata nodes with roles on it.
#
#   start_mock TOPIC            mock cluster with TOPIC (4 partitions); sets BROKERS
#   mock_cmd CMD...             send a command to the mock (topic NAME P, down ID, ...);
#                               fails unless it answers "ok" within 10 s
#   node_config ROLE NAME GROUP a config file $T_DIR/NAME.yml for one node on the mock
#   start_node NAME             start the node with that file; NODE_PID/NODE_URL[NAME]
#   at NAME                     direct http() to node NAME
#   wait_ready NAME             /-/ready answers 200 within 20 s
#   owned NAME                  partitions node NAME consumes (strata_ingest_partition_owned)
#   wait_owned A NA B NB        node A owns NA partitions and B owns NB, within 30 s
# Nodes and the mock are killed when the test exits.

: "${STRATA_BUILD_DIR:?STRATA_BUILD_DIR must point at the build directory}"
MOCK_BIN="$STRATA_BUILD_DIR/tests/kafka_mock"
[ -x "$MOCK_BIN" ] || { echo "missing $MOCK_BIN (build the kafka_mock target)"; exit 1; }

declare -A NODE_PID NODE_URL
CL_AUTH=()
MOCK_PID=""
MOCK_TOPIC=""
stop_all() {
  local n
  for n in "${!NODE_PID[@]}"; do kill -9 "${NODE_PID[$n]}" 2>/dev/null || true; done
  exec 7>&- 2>/dev/null || true # end of input: the mock exits
  if [ -n "$MOCK_PID" ]; then
    for _ in $(seq 1 50); do kill -0 "$MOCK_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$MOCK_PID" 2>/dev/null || true
  fi
}
trap 'stop_all; cleanup' EXIT

start_mock() {
  MOCK_TOPIC=$1
  mkfifo "$T_DIR/mock.in"
  "$MOCK_BIN" --brokers 1 --topic "$MOCK_TOPIC" --partitions 4 <"$T_DIR/mock.in" \
    >"$T_DIR/mock.out" 2>"$T_DIR/mock.err" &
  MOCK_PID=$!
  exec 7>"$T_DIR/mock.in"
  for _ in $(seq 1 100); do [ -s "$T_DIR/mock.out" ] && break; sleep 0.1; done
  BROKERS=$(head -n1 "$T_DIR/mock.out")
}

node_config() {
  cat >"$T_DIR/$2.yml" <<YML
cluster:
  role: $1
  node_id: $2
  replica_group: ${4:-a}
  session_timeout: 3s
ingest:
  backend: kafka
  partitions: 4
kafka:
  brokers: $BROKERS
  topic: $MOCK_TOPIC
  group_id: $3
  produce_timeout: 5s
  request_timeout: 5s
YML
  if [ -n "${NODE_EXTRA:-}" ]; then printf '%s\n' "$NODE_EXTRA" >>"$T_DIR/$2.yml"; fi
}

start_node() {
  start_strata --config "$T_DIR/$1.yml" --data-dir "$T_DIR/$1" ||
    { echo "node $1 did not start"; exit 1; }
  NODE_PID[$1]=$STRATA_PID
  NODE_URL[$1]=$STRATA_URL
  STRATA_PID="" # the nodes are stopped by stop_all, not by lib.sh's cleanup
}

restart_node() {
  start_strata --config "$T_DIR/$1.yml" --data-dir "$T_DIR/$1" --listen "${NODE_URL[$1]#http://}" ||
    { echo "node $1 did not restart"; exit 1; }
  NODE_PID[$1]=$STRATA_PID
  STRATA_PID=""
}

at() { STRATA_URL=${NODE_URL[$1]}; }

wait_ready() {
  at "$1"
  for _ in $(seq 1 200); do
    http GET /-/ready
    [ "$HTTP_CODE" = 200 ] && return 0
    sleep 0.1
  done
  echo "  $1 not ready: $HTTP_CODE"
  return 1
}

owned() {
  at "$1"
  http GET /metrics "${CL_AUTH[@]}"
  awk '/^strata_ingest_partition_owned\{/ { n += $2 } END { print n + 0 }' <<<"$BODY"
}

wait_owned() {
  local a b
  for _ in $(seq 1 300); do
    a=$(owned "$1")
    b=$(owned "$3")
    [ "$a" = "$2" ] && [ "$b" = "$4" ] && return 0
    sleep 0.1
  done
  echo "  $1 owns $a partitions (wanted $2), $3 owns $b (wanted $4)"
  return 1
}

mock_cmd() {
  local before
  before=$(wc -l <"$T_DIR/mock.out")
  echo "$*" >&7
  for _ in $(seq 1 100); do
    [ "$(wc -l <"$T_DIR/mock.out")" -gt "$before" ] && break
    sleep 0.1
  done
  [ "$(tail -n1 "$T_DIR/mock.out")" = ok ]
}
