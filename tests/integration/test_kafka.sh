#!/usr/bin/env bash
# test_kafka.sh: the Kafka log backend end to end: `strata serve` with `ingest.backend:
# kafka` against librdkafka's mock cluster (tests/helpers/kafka_mock, real Kafka protocol
# over 127.0.0.1): writes are acknowledged once Kafka acknowledged them and become
# queryable through the consumers; a broker outage turns writes into 503 + Retry-After
# within the produce timeout and loses nothing acknowledged; a restart with an empty data
# directory rebuilds the store from the topic; config errors name file:line:col.
source "$(dirname "$0")/lib.sh"

: "${STRATA_BUILD_DIR:?STRATA_BUILD_DIR must point at the build directory}"
MOCK_BIN="$STRATA_BUILD_DIR/tests/kafka_mock"
[ -x "$MOCK_BIN" ] || { echo "missing $MOCK_BIN (build the kafka_mock target)"; exit 1; }

MOCK_PID=""
stop_mock() {
  exec 7>&- 2>/dev/null || true # end of input: the mock exits
  if [ -n "$MOCK_PID" ]; then
    local i
    for i in $(seq 1 50); do kill -0 "$MOCK_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$MOCK_PID" 2>/dev/null || true
    MOCK_PID=""
  fi
}
trap 'stop_mock; cleanup' EXIT

# --- the mock cluster: one broker, topic strata-it with 4 partitions
mkfifo "$T_DIR/mock.in"
"$MOCK_BIN" --brokers 1 --topic strata-it --partitions 4 <"$T_DIR/mock.in" \
  >"$T_DIR/mock.out" 2>"$T_DIR/mock.err" &
MOCK_PID=$!
exec 7>"$T_DIR/mock.in"
for i in $(seq 1 100); do [ -s "$T_DIR/mock.out" ] && break; sleep 0.1; done
BROKERS=$(head -n1 "$T_DIR/mock.out")
check "mock cluster prints its bootstrap servers" grep -q '^127\.0\.0\.1:[0-9]*$' <<<"$BROKERS"

# mock_cmd CMD...: send a command and wait for its answer ("ok" expected)
mock_cmd() {
  local before after i
  before=$(wc -l <"$T_DIR/mock.out")
  echo "$*" >&7
  for i in $(seq 1 100); do
    after=$(wc -l <"$T_DIR/mock.out")
    [ "$after" -gt "$before" ] && break
    sleep 0.05
  done
  [ "$(tail -n1 "$T_DIR/mock.out")" = ok ]
}

# query_count EXPR: number of series EXPR returns at now
query_count() {
  http GET "/api/v1/query" --get --data-urlencode "query=$1" --data-urlencode "time=$(date +%s)"
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(len(d["data"]["result"]) if d.get("status")=="success" else -1)' "$BODY" 2>/dev/null || echo -1
}

# wait_count EXPR N: wait up to 20 s until EXPR returns N series
wait_count() {
  local i n=-1
  for i in $(seq 1 200); do
    n=$(query_count "$1")
    [ "$n" = "$2" ] && return 0
    sleep 0.1
  done
  echo "  $1: $n series, wanted $2"
  return 1
}

# --- config errors
cat >"$T_DIR/nokafka.yml" <<'YML'
ingest:
  backend: kafka
YML
out=$("$STRATA_BIN" serve --config "$T_DIR/nokafka.yml" --data-dir "$T_DIR/d0" 2>&1 || true)
check "backend kafka without a kafka: section is refused" grep -q "kafka: section" <<<"$out"
cat >"$T_DIR/badprop.yml" <<YML
ingest:
  backend: kafka
  partitions: 4
kafka:
  brokers: $BROKERS
  topic: strata-it
  properties:
    acks: "1"
YML
out=$("$STRATA_BIN" serve --config "$T_DIR/badprop.yml" --data-dir "$T_DIR/d0" 2>&1 || true)
check "a reserved librdkafka property names file:line:col" \
  grep -q "badprop.yml:8:5: kafka.properties.acks: .*set by Strata" <<<"$out"
cat >"$T_DIR/badparts.yml" <<YML
ingest:
  backend: kafka
  partitions: 3
kafka:
  brokers: $BROKERS
  topic: strata-it
  request_timeout: 2s
YML
out=$("$STRATA_BIN" serve --config "$T_DIR/badparts.yml" --data-dir "$T_DIR/d0" 2>&1 || true)
check "a partition count different from the topic's is refused" \
  grep -q "topic strata-it has 4 partitions" <<<"$out"

# start_strata is called in a || list: lib.sh's start loop runs `sed` on the server's log
# file, which the backgrounded server may not have created yet; under `set -e` that race
# would end the script, in a || list the loop just tries again 0.1 s later.
start_or_die() { start_strata "$@" || { echo "strata did not start"; exit 1; }; }

# --- serve with the Kafka log
cat >"$T_DIR/kafka.yml" <<YML
ingest:
  backend: kafka
  partitions: 4
kafka:
  brokers: $BROKERS
  topic: strata-it
  group_id: strata-it-store
  produce_timeout: 2s
  request_timeout: 2s
YML
start_or_die --config "$T_DIR/kafka.yml" --data-dir "$T_DIR/data"
ready=0
for i in $(seq 1 100); do
  http GET /-/ready
  [ "$HTTP_CODE" = 200 ] && { ready=1; break; }
  sleep 0.1
done
check "/-/ready turns 200 with the Kafka log" test "$ready" = 1

now=$(date +%s)
lp=""
for h in $(seq 1 20); do lp+="kcpu,host=h$h usage=$h $((now - 30))"$'\n'; done
http POST "/write?precision=s" --data-binary "$lp"
check "a write through Kafka answers 204 (got $HTTP_CODE ${BODY:0:200})" test "$HTTP_CODE" = 204
check "the written series become queryable" wait_count kcpu_usage 20

# --- broker outage
check "mock: broker 1 down" mock_cmd down 1
t0=$(date +%s%N)
http POST "/write?precision=s" --data-binary "kdown,host=x v=1 $now" -D "$T_DIR/hdr"
t1=$(date +%s%N)
check "a write during the outage answers 503 (got $HTTP_CODE)" test "$HTTP_CODE" = 503
check "the 503 carries Retry-After" grep -qi '^retry-after:' "$T_DIR/hdr"
check "the 503 says what happened (${BODY:0:300})" grep -q "not acknowledged within 2000 ms" <<<"$BODY"
ms=$(((t1 - t0) / 1000000))
check "the 503 comes after about the produce timeout (${ms} ms)" test "$ms" -ge 1500 -a "$ms" -lt 15000
check "mock: broker 1 up" mock_cmd up 1
code=0
for i in $(seq 1 60); do
  lp=""
  for h in $(seq 1 10); do lp+="kafter,host=h$h v=$h $now"$'\n'; done
  http POST "/write?precision=s" --data-binary "$lp"
  code=$HTTP_CODE
  [ "$code" = 204 ] && break
  sleep 0.5
done
check "writes succeed again once the broker is back (got $code)" test "$code" = 204
check "writes after the outage become queryable" wait_count kafter_v 10
check "nothing acknowledged before the outage was lost" wait_count kcpu_usage 20

check "strata exits 0 on SIGTERM" stop_strata TERM

# --- a new, empty store replays the topic
start_or_die --config "$T_DIR/kafka.yml" --data-dir "$T_DIR/data2"
check "an empty store is rebuilt from the topic (before the outage)" wait_count kcpu_usage 20
check "an empty store is rebuilt from the topic (after the outage)" wait_count kafter_v 10
check "strata exits 0 again" stop_strata TERM

finish
