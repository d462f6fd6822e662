#!/usr/bin/env bash
# test_cluster_alert.sh: the alert role (cluster.role alert, alert/ha.c): two alert nodes
# on librdkafka's mock cluster (tests/helpers/kafka_mock) evaluate the same rule file
# through cluster.stores (one role-all node holds the data); the member of the consumer
# group <group_id>.alert owning partition 0 of <topic>-alerts is the active notifier.
#  - a rule fires: exactly one notification arrives (the standby sends nothing);
#  - the receiver goes down, a second alert fires: the active node publishes it to the
#    topic but cannot deliver it; kill -9 the active node; the receiver comes back;
#  - the standby takes over within the session timeout plus a few seconds, delivers the
#    published notification from the group's committed offset (nothing lost), does not
#    notify the first alert again (the notification log came through the topic);
#  - the first alert resolves: one "resolved" notification;
#  - the killed node restarts as a standby and sends nothing;
#  - over the whole test no notification arrives twice (receiver log).
# Every wait is bounded; the whole script takes about 25-40 s.
if [ -n "${STRATA_BUILD_DIR:-}" ]; then export TMPDIR="$STRATA_BUILD_DIR/it-tmp"; mkdir -p "$TMPDIR"; fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster_lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
T_START=$(date +%s)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RP=$(free_port)
HOOKS="$T_DIR/hooks.jsonl"
touch "$HOOKS"
RPID=""
start_receiver() {
  : >"$T_DIR/receiver.log"
  python3 "$HERE/webhook_receiver.py" --port "$RP" --log "$HOOKS" >"$T_DIR/receiver.log" 2>&1 &
  RPID=$!
  for _ in $(seq 1 50); do grep -q listening "$T_DIR/receiver.log" && return 0; sleep 0.1; done
  echo "receiver did not start"; return 1
}
stop_receiver() {
  [ -n "$RPID" ] && kill "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null || true
  RPID=""
}
trap 'stop_receiver; stop_all; cleanup' EXIT

# hooks MODE ALERTNAME: 2xx notifications with ALERTNAME (firing|resolved|all), or "dups":
# the number of notifications whose (groupKey, status, alerts and their status) was
# delivered before.
hooks() {
  python3 - "$HOOKS" "$@" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = [r for r in recs if r["status"] == 200 and isinstance(r["body"], dict)]
mode = sys.argv[2]
if mode == "dups":
    seen, d = set(), 0
    for r in ok:
        b = r["body"]
        k = (b["groupKey"], b["status"], tuple(sorted((a["fingerprint"], a["status"]) for a in b["alerts"])))
        d += k in seen
        seen.add(k)
    print(d)
elif mode == "first_t": # unix time of the first 2xx notification with the alert, firing
    print(min(r["t"] for r in ok if r["body"]["status"] == "firing" and
              any(a["labels"].get("alertname") == sys.argv[3] for a in r["body"]["alerts"])))
else:
    name = sys.argv[3]
    print(sum(1 for r in ok if r["body"]["status"] == mode and
              any(a["labels"].get("alertname") == name for a in r["body"]["alerts"])))
PY
}
wait_hooks() { # MODE NAME COUNT SECONDS
  local end=$(($(date +%s) + $4))
  while [ "$(date +%s)" -le "$end" ]; do
    [ "$(hooks "$1" "$2")" -ge "$3" ] && return 0
    sleep 0.2
  done
  return 1
}
write() { # line protocol to the data node
  STRATA_URL=$DATA_URL http POST "/write?precision=ms" --data-binary "$1"
}
owner() { # the alert node that logged taking partition 0 last (among the running ones)
  local n
  for n in "$@"; do
    grep -q "owns partition 0 of strata-alert-alerts" "$T_DIR/$n.log" 2>/dev/null && echo "$n"
  done
}

# --- mock cluster with the one-partition notification topic, receiver, data node
start_mock strata-alert
check "the mock creates the notification topic with one partition" \
  mock_cmd topic strata-alert-alerts 1
start_receiver
start_strata --data-dir "$T_DIR/data"
DATA_URL=$STRATA_URL
NODE_PID[data]=$STRATA_PID
STRATA_PID=""

cat >"$T_DIR/rules.yml" <<'YML'
groups:
  - name: ha
    interval: 1s
    rules:
      - alert: HaFirst
        expr: ha_a > 0
      - alert: HaSecond
        expr: ha_b > 0
YML
for n in a1 a2; do
  cat >"$T_DIR/$n.yml" <<YML
cluster:
  role: alert
  node_id: $n
  session_timeout: 3s
  stores: [${DATA_URL#http://}]
kafka:
  brokers: $BROKERS
  topic: strata-alert
  group_id: strata-ita
  produce_timeout: 5s
  request_timeout: 5s
rule_files: [rules.yml]
alerting:
  outbox: {retry_initial: 200ms, retry_max: 500ms, timeout: 2s}
  config:
    route:
      receiver: hook
      group_by: [alertname]
      group_wait: 1s
      group_interval: 1s
      repeat_interval: 1h
    receivers:
      - name: hook
        webhook_configs:
          - url: http://127.0.0.1:$RP/hook
            send_resolved: true
YML
done
start_alert() {
  start_strata --config "$T_DIR/$1.yml" --data-dir "$T_DIR/$1" --log-level debug ||
    { echo "node $1 did not start"; exit 1; }
  NODE_PID[$1]=$STRATA_PID
  NODE_URL[$1]=$STRATA_URL
  ln -sf "$STRATA_LOG" "$T_DIR/$1.log"
  STRATA_PID=""
}
start_alert a1
wait_owner() { for _ in $(seq 1 200); do [ -n "$(owner "$@")" ] && return 0; sleep 0.1; done; return 1; }
check "a1 becomes the active notifier" wait_owner a1
start_alert a2
check "alert node a2 is ready" wait_ready a2
at a2
http GET /api/v1/query --get --data-urlencode 'query=vector(1)'
check "an alert node answers queries through the fan-out ($HTTP_CODE)" test "$HTTP_CODE" = 200
ACTIVE=a1
STANDBY=a2

# --- the first alert fires: one notification
now_ms() { echo $(($(date +%s%N) / 1000000)); }
write "ha a=1 $(now_ms)"
check "the data node takes the write ($HTTP_CODE)" test "$HTTP_CODE" = 204
check "HaFirst is notified" wait_hooks firing HaFirst 1 20
sleep 3 # three group intervals: a second notification would come from the standby
check "... exactly once ($(hooks firing HaFirst))" test "$(hooks firing HaFirst)" = 1
at "$STANDBY"
http GET /api/v1/alerts
check "the standby's /api/v1/alerts lists HaFirst firing (hot standby)" \
  python3 -c 'import json,sys; a=json.loads(sys.argv[1])["data"]["alerts"]; sys.exit(0 if any(x["labels"].get("alertname")=="HaFirst" and x["state"]=="firing" for x in a) else 1)' "$BODY"
http GET /api/v1/rules
check "the standby's /api/v1/rules lists the rule group ($HTTP_CODE)" \
  python3 -c 'import json,sys; g=json.loads(sys.argv[1])["data"]["groups"]; sys.exit(0 if g else 1)' "$BODY"

# --- receiver down; the second alert fires and is published but not delivered
stop_receiver
write "ha b=1 $(now_ms)"
published() { # the active node read HaSecond back from the topic and is retrying it
  for _ in $(seq 1 150); do
    grep -q 'HaSecond.* to receiver .*hook.*: attempt 1 failed, retrying' "$T_DIR/$ACTIVE.log" && return 0
    sleep 0.1
  done
  return 1
}
check "the active node published HaSecond and is retrying its delivery" published

# --- kill -9 the active node; the standby takes over and delivers
T_KILL=$(date +%s)
T_KILL_NS=$(date +%s%N)
kill -9 "${NODE_PID[$ACTIVE]}"
wait "${NODE_PID[$ACTIVE]}" 2>/dev/null || true
unset "NODE_PID[$ACTIVE]"
start_receiver
check "the standby $STANDBY takes partition 0" wait_owner "$STANDBY"
check "HaSecond, published before the kill, is delivered by $STANDBY" wait_hooks firing HaSecond 1 25
T_TAKE=$(($(date +%s) - T_KILL))
T_TAKE_MS=$(python3 -c "print(int($(hooks first_t HaSecond) * 1000 - $T_KILL_NS / 1e6))")
check "takeover and delivery within session timeout + 10 s (kill -9 to delivery ${T_TAKE_MS} ms)" \
  test "$T_TAKE" -le 13
sleep 3
check "HaSecond exactly once ($(hooks firing HaSecond))" test "$(hooks firing HaSecond)" = 1
check "HaFirst not notified again by the new active node ($(hooks firing HaFirst))" \
  test "$(hooks firing HaFirst)" = 1

# --- the first alert resolves: one resolved notification
write "ha a=0 $(now_ms)"
check "HaFirst's resolution is notified" wait_hooks resolved HaFirst 1 20
sleep 3
check "... exactly once ($(hooks resolved HaFirst))" test "$(hooks resolved HaFirst)" = 1

# --- the killed node comes back: a standby now (a2 keeps partition 0), it replays the
# topic into its notification log and notifies nothing
start_alert "$ACTIVE"
check "$ACTIVE is back and ready" wait_ready "$ACTIVE"
n_before=$(wc -l <"$HOOKS")
sleep 4
check "the returning standby sends nothing ($(($(wc -l <"$HOOKS") - n_before)) new)" \
  test "$(wc -l <"$HOOKS")" = "$n_before"
check "no notification arrived twice over the whole test ($(hooks dups x) duplicates)" \
  test "$(hooks dups x)" = 0

STRATA_PID=${NODE_PID[$STANDBY]}
check "$STANDBY exits 0 on SIGTERM" stop_strata TERM
unset "NODE_PID[$STANDBY]"
elapsed=$(($(date +%s) - T_START))
check "the test stays under 90 s (${elapsed} s)" test "$elapsed" -lt 90
finish
