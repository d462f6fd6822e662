#!/usr/bin/env bash
# test_remote_write_prometheus.sh: a real Debian `prometheus` (2.42) scrapes itself every
# second and remote-writes to Strata's /api/v1/write. Checks that Prometheus' own series
# (prometheus_build_info, up, scrape_samples_scraped, ...) arrive in Strata with samples,
# and that for the same series and timestamps Strata returns exactly the values
# Prometheus' own query API returns (raw samples of a range selector, compared by label
# set and timestamp). Everything on 127.0.0.1; every wait bounded; peers killed on exit.
source "$(dirname "$0")/lib.sh"

PROM_BIN=$(command -v prometheus || true)
if [ -z "$PROM_BIN" ]; then
  echo "prometheus is not installed (run: scripts/deps.sh test)"
  exit 1
fi

start_strata --data-dir "$T_DIR/data"

# launch_prometheus PORT: scrape itself every second, remote write to Strata.
launch_prometheus() {
  cat >"$T_DIR/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:$1']
remote_write:
  - url: $STRATA_URL/api/v1/write
    queue_config:
      batch_send_deadline: 500ms
      max_samples_per_send: 500
      min_backoff: 100ms
      max_backoff: 1s
YML
  exec "$PROM_BIN" --config.file="$T_DIR/prometheus.yml" --storage.tsdb.path="$T_DIR/prom" \
    --web.listen-address="127.0.0.1:$1" --log.level=warn
}
start_peer prometheus /-/ready 100 0.2 launch_prometheus
PROM_PID=$PEER_PID PROM_PORT=$PEER_PORT
PROM_URL="http://127.0.0.1:$PROM_PORT"
ok "prometheus ready on $PROM_URL, remote writing to $STRATA_URL"

# q EXPR: instant query against Strata; sets BODY.
q() { http GET /api/v1/query -G --data-urlencode "query=$1"; }

eventually 'up{job="prometheus"} arrives with 3+ samples' 60 '
import json, sys
r = json.loads(sys.argv[1])["data"]["result"]
assert len(r) == 1 and len(r[0]["values"]) >= 3, r
assert set(v for _, v in r[0]["values"]) == {"1"}, r
' q 'up{job="prometheus"}[5m]'

eventually "prometheus_build_info arrived with Prometheus' labels" 15 "
import json, sys
r = json.loads(sys.argv[1])['data']['result']
assert len(r) == 1, r
m = r[0]['metric']
assert m['job'] == 'prometheus' and m['instance'] == '127.0.0.1:$PROM_PORT', m
assert m['version'].startswith('2.'), m
assert r[0]['value'][1] == '1', r
" q 'prometheus_build_info'

eventually "scrape_samples_scraped has samples" 15 "
import json, sys
r = json.loads(sys.argv[1])['data']['result']
assert len(r) == 1 and len(r[0]['values']) >= 3 and float(r[0]['values'][-1][1]) > 100, r
" q 'scrape_samples_scraped{job="prometheus"}[5m]'

# Same query, same evaluation time, both servers: raw samples of a range selector.
# Every sample Prometheus has that is old enough to have been remote-written (older
# than the evaluation time minus 5 s) must be in Strata with the same value.
compare() {
  local expr=$1 desc=$2 i t
  for i in $(seq 1 40); do
    t=$(python3 -c 'import time; print("%.3f" % (time.time() - 1))')
    curl -s --max-time 10 -G "$PROM_URL/api/v1/query" --data-urlencode "query=$expr" \
      --data-urlencode "time=$t" -o "$T_DIR/prom.json" || true
    http GET /api/v1/query -G --data-urlencode "query=$expr" --data-urlencode "time=$t"
    if python3 - "$T_DIR/prom.json" "$BODY" "$t" >"$T_DIR/compare.out" 2>&1 <<'PY'
import json, sys
prom = json.load(open(sys.argv[1]))["data"]["result"]
strata = json.loads(sys.argv[2])["data"]["result"]
t_eval = float(sys.argv[3])
key = lambda m: tuple(sorted(m.items()))
got = {key(s["metric"]): {float(t): float(v) for t, v in s["values"]} for s in strata}
n = 0
assert prom, "prometheus returned nothing"
for s in prom:
    k = key(s["metric"])
    assert k in got, ("series missing in strata", s["metric"])
    for t, v in s["values"]:
        t = float(t)
        if t > t_eval - 5:
            continue
        assert t in got[k], ("sample missing", s["metric"], t)
        assert got[k][t] == float(v) or (v == "NaN" and got[k][t] != got[k][t]), \
            ("value differs", s["metric"], t, v, got[k][t])
        n += 1
assert n >= 10, ("too few samples compared", n)
print("compared", n, "samples of", len(prom), "series")
PY
    then
      ok "$desc: $(cat "$T_DIR/compare.out")"
      return 0
    fi
    sleep 0.5
  done
  not_ok "$desc: $(tail -n 3 "$T_DIR/compare.out")"
}
compare 'scrape_samples_scraped{job="prometheus"}[1m]' "scrape_samples_scraped matches Prometheus sample for sample"
compare 'prometheus_tsdb_head_samples_appended_total[1m]' "prometheus_tsdb_head_samples_appended_total matches"
compare 'process_resident_memory_bytes[1m]' "process_resident_memory_bytes matches"
compare '{__name__=~"prometheus_http_requests_total|up|scrape_duration_seconds"}[30s]' "several series match"

eventually "strata counted the remote write requests" 15 "
import sys
v = [l.split()[1] for l in sys.argv[1].splitlines() if l.startswith('strata_ingest_requests_total ')]
assert v and float(v[0]) >= 3, v
" http GET /metrics
check "prometheus logged no remote write errors" bash -c "! grep -i 'remote_write\|remote write' '$T_DIR/prometheus.log' | grep -qi 'err'"

stop_peer "$PROM_PID"
check "SIGTERM exits 0 within 30 s" stop_strata
finish
