#!/usr/bin/env bash
# test_alertmanager_forward.sh: Strata next to Debian's prometheus-alertmanager (0.25) on
# loopback, both reading the same alertmanager.yml and notifying the same webhook receiver.
#   - alerting.alertmanagers: alerts posted to Strata are forwarded to Alertmanager's
#     /api/v2/alerts (visible in its API and notified by it)
#   - side by side: for the same alerts, Strata's own webhook payloads equal
#     Alertmanager's field for field (receiver, status, groupKey, groupLabels,
#     commonLabels, commonAnnotations, truncatedAlerts, and per alert status, labels,
#     annotations, startsAt, endsAt, generatorURL, fingerprint), firing and resolved;
#     only externalURL differs
# Skips when prometheus-alertmanager is not installed. Every wait is bounded.
# Temp dirs under the build tree: immune to broad /tmp clean-ups by concurrent jobs.
if [ -n "${STRATA_BUILD_DIR:-}" ]; then export TMPDIR="$STRATA_BUILD_DIR/it-tmp"; mkdir -p "$TMPDIR"; fi
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
AM_BIN=$(command -v prometheus-alertmanager || command -v alertmanager || true)
if [ -z "$AM_BIN" ]; then
  echo "ok - # SKIP prometheus-alertmanager is not installed (scripts/deps.sh test)"
  finish
  exit 0
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RP=$(free_port)
AP=$(free_port)
HOOKS="$T_DIR/hooks.jsonl"
touch "$HOOKS"
python3 "$HERE/webhook_receiver.py" --port "$RP" --log "$HOOKS" >"$T_DIR/receiver.log" 2>&1 &
RPID=$!
cat >"$T_DIR/am.yml" <<YML
global:
  resolve_timeout: 5m
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
  routes:
    - matchers: ['team=~"db|web"', 'severity!="info"']
      group_by: [alertname, team]
      receiver: hook
    - match: {team: cache}
      match_re: {env: "prod.*"}
      group_by: ['...']
      receiver: hook
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:$RP/hook
        max_alerts: 2
YML
"$AM_BIN" --config.file="$T_DIR/am.yml" --storage.path="$T_DIR/am-data" \
  --web.listen-address="127.0.0.1:$AP" --cluster.listen-address= >"$T_DIR/am.log" 2>&1 &
AMPID=$!
trap 'kill $RPID $AMPID 2>/dev/null; cleanup' EXIT

wait_for() {
  local t=$1 i; shift
  for i in $(seq 1 $((t * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}
am_up() { curl -sf "http://127.0.0.1:$AP/-/ready" >/dev/null; }
check "Alertmanager starts" wait_for 20 am_up

cat >"$T_DIR/strata.yml" <<YML
alerting:
  config_file: am.yml
  alertmanagers: [http://127.0.0.1:$AP]
YML
start_strata --config "$T_DIR/strata.yml" --data-dir "$T_DIR/data"

alerts_json() { # ENDS (empty = firing)
  python3 - "${1:-}" <<'PY'
import json, sys
ends = sys.argv[1]
v = [
 {"labels": {"alertname": "DiskFull", "team": "db", "severity": "page", "instance": "db%d" % i},
  "annotations": {"summary": "disk <full> on db%d" % i, "runbook": "http://rb/disk"},
  "startsAt": "2024-01-01T00:00:00.123Z", "generatorURL": "http://prom/graph?g0.expr=disk"}
 for i in range(3)]
v.append({"labels": {"alertname": "Evicting", "team": "cache", "env": "prod-eu", "shard": "7"},
          "annotations": {"summary": "ünïcode & \"quotes\""}, "startsAt": "2024-01-01T00:00:01Z"})
v.append({"labels": {"alertname": "Lonely"}, "startsAt": "2024-01-01T00:00:02.5Z"})
for a in v:
    if ends:
        a["endsAt"] = ends
print(json.dumps(v))
PY
}
http POST /api/v2/alerts -H 'Content-Type: application/json' --data-binary "$(alerts_json)"
check "Strata accepts the alerts" test "$HTTP_CODE" = 200
am_has() { [ "$(curl -s "http://127.0.0.1:$AP/api/v2/alerts" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 5 ]; }
check "the alerts were forwarded to Alertmanager" wait_for 10 am_has

# compare MODE: equal payloads from both senders, per groupKey, for status MODE
compare() {
  python3 - "$HOOKS" "$1" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
want = sys.argv[2]
by = {}
for r in recs:
    b = r["body"]
    if b["status"] != want:
        continue
    who = "am" if r["agent"].startswith("Alertmanager") else "strata"
    by.setdefault(b["groupKey"], {})[who] = b
if len(by) != 3:
    sys.exit("groups: %s" % sorted(by))
for k, v in by.items():
    if set(v) != {"am", "strata"}:
        sys.exit("%s only from %s" % (k, list(v)))
    a, s = dict(v["am"]), dict(v["strata"])
    a.pop("externalURL"), s.pop("externalURL")
    if a != s:
        sys.exit("differs for %s:\n am:     %s\n strata: %s" % (k, json.dumps(a, sort_keys=True),
                                                             json.dumps(s, sort_keys=True)))
print("ok", len(by))
PY
}
both_firing() { compare firing >/dev/null 2>&1; }
wait_for 15 both_firing || true
check "firing payloads equal Alertmanager's (minus externalURL)" compare firing
check "max_alerts truncates like Alertmanager" grep -q '"truncatedAlerts": 1' <(python3 -c '
import json,sys
for l in open(sys.argv[1]): print(json.dumps(json.loads(l)["body"]))' "$HOOKS")

now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
http POST /api/v2/alerts -H 'Content-Type: application/json' --data-binary "$(alerts_json "$now")"
both_resolved() { compare resolved >/dev/null 2>&1; }
wait_for 15 both_resolved || true
check "resolved payloads equal Alertmanager's (minus externalURL)" compare resolved

check "SIGTERM stops cleanly" stop_strata TERM
finish
