#!/usr/bin/env bash
# test_alert_for_timing.sh: an alerting rule with `for: 1m` notifies no earlier than the
# `for` allows and no later than group_wait + one evaluation interval after it (issue 6).
#
# Set-up: one rule group evaluated every 5 s, `for: 1m`; a route with group_wait 5 s; a
# webhook receiver (webhook_receiver.py) on loopback that stamps each POST with its
# arrival time. At T (the sample's own timestamp, taken from the same clock the server
# uses) one /write makes the condition true. Then:
#   - the first evaluation tick at or after T sees it: te in [T, T + interval);
#   - the alert fires at the tick te + for (Prometheus: fires when t - activeAt >= for);
#   - the notifier opens the group and flushes it group_wait later;
# so the webhook must arrive in [T + for + group_wait, T + for + group_wait + interval].
# The lower bound is exact (one clock); the upper bound gets TOL = 2 s for what lies
# outside the model: the evaluation runs a little after its tick, timers wake late on a
# loaded 2-core machine, the consumer applies the write asynchronously (if the tick right
# after T misses it, the next tick still lies before T + interval + a few ms), and the
# outbox sender, libcurl and the receiver's log write. Bounded: ~75 s.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

FOR_S=60
GROUP_WAIT_S=5
INTERVAL_S=5
TOL_S=2

RP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HOOKS="$T_DIR/hooks.jsonl"
python3 "$HERE/webhook_receiver.py" --port "$RP" --log "$HOOKS" >"$T_DIR/receiver.log" 2>&1 &
RPID=$!
trap 'kill $RPID 2>/dev/null || true; cleanup' EXIT
for i in $(seq 1 50); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $RP), 0.2)" 2>/dev/null && break
  sleep 0.1
done

cat >"$T_DIR/rules.yml" <<YML
groups:
  - name: for_timing
    interval: ${INTERVAL_S}s
    rules:
      - alert: DiskAlmostFull
        expr: disk_used_percent > 90
        for: ${FOR_S}s
        labels:
          severity: page
YML
cat >"$T_DIR/strata.yml" <<YML
rule_files: [rules.yml]
alerting:
  outbox: {retry_initial: 200ms, retry_max: 1s, timeout: 2s}
  config:
    route:
      receiver: hook
      group_by: [alertname]
      group_wait: ${GROUP_WAIT_S}s
      group_interval: 5s
      repeat_interval: 1h
    receivers:
      - name: hook
        webhook_configs:
          - url: http://127.0.0.1:$RP/hook
YML
start_strata --config "$T_DIR/strata.yml" --data-dir "$T_DIR/data"
for i in $(seq 1 100); do
  http GET /-/ready
  [ "$HTTP_CODE" = 200 ] && break
  sleep 0.1
done

write_disk() { # write_disk VALUE TIMESTAMP_MS
  http POST "/write?precision=ms" --data-binary "disk,host=db1 used_percent=$1 $2"
  [ "$HTTP_CODE" = 204 ]
}
# Below the threshold first, so the series exists and the rule evaluates to nothing.
check "a below-threshold sample is stored" write_disk 50 "$(date +%s%3N)"
sleep 1
T_MS=$(date +%s%3N)
check "the sample that makes the condition true is stored" write_disk 97 "$T_MS"

# Keep the condition true (a sample every 5 s, well inside the 5 m lookback) until the
# notification arrives or the deadline passes; look at the alert state on the way.
deadline_ms=$((T_MS + (FOR_S + GROUP_WAIT_S + INTERVAL_S + TOL_S + 5) * 1000))
saw_pending=0
while [ "$(date +%s%3N)" -lt "$deadline_ms" ]; do
  [ -s "$HOOKS" ] && break
  now_ms=$(date +%s%3N)
  if [ $((now_ms - T_MS)) -ge $(((INTERVAL_S + 2) * 1000)) ] && [ $((now_ms - T_MS)) -lt $(((FOR_S - 5) * 1000)) ]; then
    http GET /api/v1/alerts
    grep -q '"state":"pending"' <<<"$BODY" && saw_pending=1
  fi
  write_disk 97 "$now_ms" || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    [ -s "$HOOKS" ] && break
    sleep 0.5
  done
done
check "the alert is pending while the for duration runs" test "$saw_pending" = 1
check "a notification arrived" test -s "$HOOKS"

# First notification: its arrival time relative to T, its status and labels.
read -r status delay_ms alertname < <(python3 - "$HOOKS" "$T_MS" <<'PY' || echo "none -1 none"
import json, sys
rec = json.loads(open(sys.argv[1]).readline())
a = rec["body"]["alerts"][0]
print(rec["body"]["status"], int(rec["t"] * 1000) - int(sys.argv[2]), a["labels"]["alertname"])
PY
)
echo "# first notification: status=$status ${delay_ms} ms after T" \
  "(window [$(((FOR_S + GROUP_WAIT_S) * 1000)), $(((FOR_S + GROUP_WAIT_S + INTERVAL_S + TOL_S) * 1000))] ms)"
check "it is the firing DiskAlmostFull alert" test "$status/$alertname" = "firing/DiskAlmostFull"
check "not before the for duration elapsed (T + ${FOR_S}s)" test "$delay_ms" -ge $((FOR_S * 1000))
check "not before for + group_wait (T + $((FOR_S + GROUP_WAIT_S))s)" \
  test "$delay_ms" -ge $(((FOR_S + GROUP_WAIT_S) * 1000))
check "by T + for + group_wait + interval + ${TOL_S}s tolerance" \
  test "$delay_ms" -le $(((FOR_S + GROUP_WAIT_S + INTERVAL_S + TOL_S) * 1000))
check "SIGTERM exits 0" stop_strata TERM
finish
