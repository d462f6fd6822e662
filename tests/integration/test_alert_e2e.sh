#!/usr/bin/env bash
# test_alert_e2e.sh: the whole alerting path in one process: a sample written over
# HTTP makes an alerting rule fire, the rule engine posts the alert to the notifier,
# and the webhook receiver (webhook_receiver.py on loopback) gets Alertmanager's
# payload with the rule's labels and templated annotations; when the condition clears
# the resolved notification follows (send_resolved).
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

RP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HOOKS="$T_DIR/hooks.jsonl"
python3 "$HERE/webhook_receiver.py" --port "$RP" --log "$HOOKS" >"$T_DIR/receiver.log" 2>&1 &
RPID=$!
trap 'kill $RPID 2>/dev/null || true; cleanup' EXIT
for i in $(seq 1 50); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $RP), 0.2)" 2>/dev/null && break
  sleep 0.1
done

cat >"$T_DIR/rules.yml" <<'YML'
groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: TemperatureHigh
        expr: room_temperature > 30
        for: 1s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.room }} is at {{ $value }} degrees"
YML
cat >"$T_DIR/strata.yml" <<YML
rule_files: [rules.yml]
alerting:
  outbox: {retry_initial: 200ms, retry_max: 1s, timeout: 2s}
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
start_strata --config "$T_DIR/strata.yml" --data-dir "$T_DIR/data"

# Keep the temperature above 30 for a while (one sample per second), then drop it.
write_temp() {
  http POST "/write?precision=ms" --data-binary "room,room=lab temperature=$1 $(date +%s%3N)"
}
got_status() { # got_status STATUS: a notification with that status arrived
  [ -f "$HOOKS" ] && python3 - "$HOOKS" "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    body = json.loads(line)["body"]
    if body.get("status") == sys.argv[2]:
        a = body["alerts"][0]
        assert a["labels"]["alertname"] == "TemperatureHigh", a
        assert a["labels"]["severity"] == "page" and a["labels"]["room"] == "lab", a
        assert a["annotations"]["summary"] == "lab is at 42 degrees", a
        sys.exit(0)
sys.exit(1)
PY
}
fired=0
for i in $(seq 1 30); do
  write_temp 42
  if got_status firing; then fired=1; break; fi
  sleep 1
done
check "a firing rule reaches the webhook with its labels and annotations" test "$fired" = 1
http GET /api/v1/alerts
check "/api/v1/alerts lists the firing alert" grep -q '"state":"firing"' <<<"$BODY"

resolved=0
for i in $(seq 1 30); do
  write_temp 20
  if got_status resolved; then resolved=1; break; fi
  sleep 1
done
check "the resolved notification follows" test "$resolved" = 1
http GET /metrics
check "/metrics counts the delivered notifications" \
  grep -Eq '^strata_alertmanager_notifications_total\{receiver="[^"]+",integration="webhook"\} [1-9]' <<<"$BODY"
check "/metrics shows an empty outbox" grep -q '^strata_alertmanager_outbox_depth 0$' <<<"$BODY"
check "SIGTERM exits 0" stop_strata TERM
finish
