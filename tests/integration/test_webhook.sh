#!/usr/bin/env bash
# test_webhook.sh: webhook notifications end to end against the real binary and a real
# HTTP receiver (webhook_receiver.py) on loopback. Alerts are posted with
# POST /api/v2/alerts, so nothing here depends on the rules engine.
#   - grouping: 100 alerts with 3 values of the group_by label give exactly 3
#     notifications, with every alert in one of them; re-posting them sends nothing new;
#     resolving one group gives one "resolved" notification
#   - the receiver is down, then fails its first 3 requests: every notification still
#     arrives after it recovers, and none twice within repeat_interval
#   - kill -9 after an alert was posted and before delivery (receiver down), restart,
#     receiver up: the notification is delivered exactly once; the notification log
#     survives, so re-posted alerts of already notified groups are not sent again
#   - silences: a silenced alert is not sent and GET /api/v2/alerts says why; expiring
#     the silence releases it; the silences survive the restart
#   - inhibit rules: a warning is muted while a critical alert with the same cluster
#     fires, and notified once the critical one resolves
# Every wait is bounded.
# Temp dirs under the build tree: immune to broad /tmp clean-ups by concurrent jobs.
if [ -n "${STRATA_BUILD_DIR:-}" ]; then export TMPDIR="$STRATA_BUILD_DIR/it-tmp"; mkdir -p "$TMPDIR"; fi
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RP=$(free_port)
HOOKS="$T_DIR/hooks.jsonl"
touch "$HOOKS"
RPID=""

start_receiver() { # [fail-first]
  python3 "$HERE/webhook_receiver.py" --port "$RP" --log "$HOOKS" --fail-first "${1:-0}" \
    >"$T_DIR/receiver.log" 2>&1 &
  RPID=$!
  local i
  for i in $(seq 1 50); do
    grep -q listening "$T_DIR/receiver.log" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "receiver did not start"; cat "$T_DIR/receiver.log"; return 1
}
stop_receiver() {
  [ -n "$RPID" ] && kill "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null || true
  RPID=""
}
trap 'stop_receiver; cleanup' EXIT

# hooks MODE ALERTNAME: inspect the receiver log.
#   ok      number of 2xx-acknowledged notifications containing ALERTNAME
#   failed  number of requests answered with an error
#   groups  "<groupKey> <count>" per group of 2xx notifications with ALERTNAME
#   alerts  number of distinct fingerprints of ALERTNAME in 2xx notifications
#   resolved number of 2xx notifications with ALERTNAME and status "resolved"
hooks() {
  python3 - "$HOOKS" "$@" <<'PY'
import collections, json, sys
log, mode, name = sys.argv[1], sys.argv[2], sys.argv[3]
recs = [json.loads(l) for l in open(log) if l.strip()]
def has(r):
    b = r["body"]
    return isinstance(b, dict) and any(a["labels"].get("alertname") == name for a in b["alerts"])
ok = [r for r in recs if r["status"] == 200 and has(r)]
if mode == "ok": print(len(ok))
elif mode == "failed": print(sum(1 for r in recs if r["status"] != 200 and has(r)))
elif mode == "groups":
    c = collections.Counter(r["body"]["groupKey"] for r in ok)
    for k, v in sorted(c.items()): print(k, v)
elif mode == "alerts": print(len({a["fingerprint"] for r in ok for a in r["body"]["alerts"]}))
elif mode == "resolved": print(sum(1 for r in ok if r["body"]["status"] == "resolved"))
elif mode == "auth": print(ok[0]["auth"] if ok else "")
PY
}

# wait_for SECONDS COMMAND...: poll until the command succeeds.
wait_for() {
  local t=$1 i; shift
  for i in $(seq 1 $((t * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}
ok_at_least() { [ "$(hooks ok "$1")" -ge "$2" ]; }

post_alerts() { # JSON body
  http POST /api/v2/alerts -H 'Content-Type: application/json' --data-binary "$1"
}

# 100 alerts, group label g0..g2.
many_json() {
  python3 - "${1:-}" <<'PY'
import json, sys
ends = sys.argv[1]
out = []
for i in range(100):
    a = {"labels": {"alertname": "Many", "group": "g%d" % (i % 3), "instance": "i%03d" % i},
         "annotations": {"summary": "instance %d is down" % i},
         "generatorURL": "http://prom/graph?g0.expr=up"}
    if ends and i % 3 == 0:
        a["endsAt"] = ends
    out.append(a)
print(json.dumps(out))
PY
}

cat >"$T_DIR/strata.yml" <<YML
alerting:
  external_url: http://strata.test:9470
  outbox: {retry_initial: 200ms, retry_max: 1s, timeout: 2s}
  config:
    route:
      receiver: hook
      group_by: [alertname, group]
      group_wait: 1s
      group_interval: 2s
      repeat_interval: 1h
    inhibit_rules:
      - source_matchers: [severity="critical"]
        target_matchers: [severity="warning"]
        equal: [cluster]
    receivers:
      - name: hook
        webhook_configs:
          - url: http://127.0.0.1:$RP/hook
            http_config: {authorization: {credentials: sekret}}
YML
DATA="$T_DIR/data"

# ------------------------------------------------------------------ grouping
start_receiver 0
start_strata --config "$T_DIR/strata.yml" --data-dir "$DATA"
T_POST=$(date +%s.%N)
post_alerts "$(many_json)"
check "POST /api/v2/alerts answers 200" test "$HTTP_CODE" = 200
wait_for 15 ok_at_least Many 3 || true
check "groups wait group_wait (1s) and not much longer" python3 - "$HOOKS" "$T_POST" <<'PY'
import json, sys
ts = [json.loads(l)["t"] for l in open(sys.argv[1])][:3]
d = [t - float(sys.argv[2]) for t in ts]
assert len(d) == 3 and all(0.9 <= x <= 3.0 for x in d), d
PY
sleep 3 # more than a group_interval: nothing else may arrive
check "100 alerts in 3 groups give exactly 3 notifications" test "$(hooks ok Many)" = 3
check "one notification per group" test "$(hooks groups Many | awk '$NF != 1' | wc -l)" = 0
check "every alert was notified" test "$(hooks alerts Many)" = 100
check "the group key is Alertmanager's" grep -q '{}:{alertname="Many", group="g1"} 1' <<<"$(hooks groups Many)"
check "Authorization header sent" test "$(hooks auth Many)" = "Bearer sekret"
check "payload is version 4 with externalURL and truncatedAlerts" python3 - "$HOOKS" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])][0]["body"]
assert r["version"] == "4" and r["externalURL"] == "http://strata.test:9470", r
assert r["receiver"] == "hook" and r["status"] == "firing" and r["truncatedAlerts"] == 0
assert r["commonLabels"]["alertname"] == "Many" and "instance" not in r["commonLabels"]
a = r["alerts"][0]
assert a["endsAt"] == "0001-01-01T00:00:00Z" and len(a["fingerprint"]) == 16, a
assert a["generatorURL"] == "http://prom/graph?g0.expr=up"
PY
post_alerts "$(many_json)" # Prometheus re-sends firing alerts: no new notification
sleep 4
check "re-posted firing alerts are not notified again" test "$(hooks ok Many)" = 3
http GET /api/v2/alerts
check "GET /api/v2/alerts lists 100 active alerts" python3 -c '
import json,sys; d=json.loads(sys.argv[1]); assert len(d)==100 and all(a["status"]["state"]=="active" for a in d), len(d)' "$BODY"
http GET '/api/v2/alerts?filter=group%3D%22g2%22'
check "GET /api/v2/alerts filter" python3 -c '
import json,sys; d=json.loads(sys.argv[1]); assert len(d)==33, len(d)' "$BODY"

# resolve group g0: one resolved notification
post_alerts "$(many_json "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
wait_for 10 ok_at_least Many 4 || true
sleep 2.5
check "resolving a group sends one resolved notification" test "$(hooks resolved Many)" = 1
check "and nothing else" test "$(hooks ok Many)" = 4

# ------------------------------------------------------------------ receiver down, then failing
stop_receiver
post_alerts '[{"labels":{"alertname":"Down","group":"x"}},{"labels":{"alertname":"Down","group":"y"}}]'
sleep 4 # the sender retries against a closed port meanwhile
check "nothing delivered while the receiver is down" test "$(hooks ok Down)" = 0
start_receiver 3 # the first 3 requests fail with 500
wait_for 20 ok_at_least Down 2 || true
sleep 3
check "both notifications arrive after the receiver recovers" test "$(hooks ok Down)" = 2
check "each group exactly once" test "$(hooks groups Down | awk '$NF != 1' | wc -l)" = 0
check "the receiver's 500s were retried" test "$(hooks failed Down)" -ge 1
post_alerts '[{"labels":{"alertname":"Down","group":"x"}},{"labels":{"alertname":"Down","group":"y"}}]'
sleep 3
check "no repeat within repeat_interval" test "$(hooks ok Down)" = 2

# ------------------------------------------------------------------ silences
http POST /api/v2/silences -H 'Content-Type: application/json' --data-binary \
  '{"matchers":[{"name":"alertname","value":"Quiet","isRegex":false}],"startsAt":"2020-01-01T00:00:00Z","endsAt":"2099-01-01T00:00:00Z","createdBy":"test","comment":"maintenance"}'
check "POST /api/v2/silences answers 200" test "$HTTP_CODE" = 200
SID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["silenceID"])' "$BODY" 2>/dev/null || true)
check "it returns a silenceID" test ${#SID} = 36
post_alerts '[{"labels":{"alertname":"Quiet","group":"q"}}]'
sleep 3.5
check "a silenced alert is not notified" test "$(hooks ok Quiet)" = 0
http GET '/api/v2/alerts?filter=alertname%3D%22Quiet%22'
check "GET /api/v2/alerts shows it suppressed by the silence" python3 -c '
import json,sys; a=json.loads(sys.argv[1])[0]["status"]; assert a["state"]=="suppressed" and a["silencedBy"]==[sys.argv[2]], a' "$BODY" "$SID"
http GET '/api/v2/alerts?silenced=false&filter=alertname%3D%22Quiet%22'
check "silenced=false hides it" test "$BODY" = "[]"
http GET "/api/v2/silence/$SID"
check "GET /api/v2/silence/<id> is active" python3 -c '
import json,sys; s=json.loads(sys.argv[1]); assert s["status"]["state"]=="active" and s["createdBy"]=="test", s' "$BODY"
http POST /api/v2/silences -H 'Content-Type: application/json' --data-binary \
  '{"matchers":[],"startsAt":"2020-01-01T00:00:00Z","endsAt":"2099-01-01T00:00:00Z","createdBy":"t","comment":"c"}'
check "an invalid silence is 400 with Alertmanager's message" bash -c "[ '$HTTP_CODE' = 400 ] && grep -q 'at least one matcher' <<<'$BODY'"
http GET /api/v2/silence/00000000-0000-4000-8000-000000000000
check "unknown silence is 404" test "$HTTP_CODE" = 404

# ------------------------------------------------------------------ inhibition
post_alerts '[{"labels":{"alertname":"InhSrc","severity":"critical","cluster":"c1"}},
 {"labels":{"alertname":"InhTgt","severity":"warning","cluster":"c1"}},
 {"labels":{"alertname":"InhOther","severity":"warning","cluster":"c2"}}]'
wait_for 10 ok_at_least InhOther 1 || true
sleep 1
check "the inhibiting alert is notified" test "$(hooks ok InhSrc)" = 1
check "an alert in another cluster is not inhibited" test "$(hooks ok InhOther)" = 1
check "the inhibited alert is not notified" test "$(hooks ok InhTgt)" = 0
http GET '/api/v2/alerts?filter=alertname%3D~%22Inh.*%22'
check "GET /api/v2/alerts names the inhibiting alert" python3 -c '
import json,sys
d={a["labels"]["alertname"]: a for a in json.loads(sys.argv[1])}
t=d["InhTgt"]["status"]; assert t["state"]=="suppressed" and t["inhibitedBy"]==[d["InhSrc"]["fingerprint"]], t
assert d["InhOther"]["status"]["state"]=="active"' "$BODY"
http GET '/api/v2/alerts?inhibited=false&filter=alertname%3D~%22Inh.*%22'
check "inhibited=false hides it" python3 -c '
import json,sys; assert sorted(a["labels"]["alertname"] for a in json.loads(sys.argv[1]))==["InhOther","InhSrc"]' "$BODY"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
post_alerts "[{\"labels\":{\"alertname\":\"InhSrc\",\"severity\":\"critical\",\"cluster\":\"c1\"},\"endsAt\":\"$now\"}]"
wait_for 10 ok_at_least InhTgt 1 || true
check "when the source resolves the target is notified" test "$(hooks ok InhTgt)" = 1

# ------------------------------------------------------------------ kill -9 before delivery
stop_receiver
post_alerts '[{"labels":{"alertname":"Crash","group":"c"}}]'
has_entry() { grep -qs '"alertname":"Crash"' "$DATA"/alerting/outbox/*.seg; }
check "the notification is in the outbox while the receiver is down" wait_for 10 has_entry
stop_strata KILL || true
start_receiver 0
start_strata --config "$T_DIR/strata.yml" --data-dir "$DATA"
wait_for 15 ok_at_least Crash 1 || true
check "after kill -9 and restart the queued notification is delivered" test "$(hooks ok Crash)" = 1
check "the replayed notification was pending at the restart" grep -q "replaying 1 pending" "$STRATA_LOG"
http GET "/api/v2/silence/$SID"
check "silences survive the restart" test "$HTTP_CODE" = 200
# Re-posting (as the rule engine does after a restart) the alerts of groups already
# notified: the persisted notification log keeps them quiet.
post_alerts "$(many_json)"
post_alerts '[{"labels":{"alertname":"Down","group":"x"}},{"labels":{"alertname":"Down","group":"y"}}]'
sleep 4
check "after restart, unchanged groups are not re-notified" test "$(hooks ok Down)" = 2
# g0 was resolved before the restart, so firing again it is news: one notification.
check "a group whose alerts changed is notified again" test "$(hooks ok Many)" = 5
http DELETE "/api/v2/silence/$SID"
check "DELETE /api/v2/silence/<id> answers 200" test "$HTTP_CODE" = 200
post_alerts '[{"labels":{"alertname":"Quiet","group":"q"}}]'
wait_for 10 ok_at_least Quiet 1 || true
check "expiring the silence releases the alert" test "$(hooks ok Quiet)" = 1
sleep 1
check "crash notification still delivered once" test "$(hooks ok Crash)" = 1

check "SIGTERM stops cleanly" stop_strata TERM
# Delivered notifications stay delivered: after another restart the outbox is empty.
start_strata --config "$T_DIR/strata.yml" --data-dir "$DATA"
sleep 1
check "the outbox is empty after a restart" bash -c "! grep -q 'pending notifications' '$STRATA_LOG'"
check "crash notification not re-sent after the restart" test "$(hooks ok Crash)" = 1
stop_strata TERM || true
finish
