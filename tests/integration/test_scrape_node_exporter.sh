#!/usr/bin/env bash
# test_scrape_node_exporter.sh: Strata scrapes a real Debian prometheus-node-exporter every
# second (pull side, ingest/scrape.c): up{job="node"} is 1, node_* series arrive with
# several points and the values node_exporter serves, /api/v1/targets says "up"; then
# node_exporter is killed: up becomes 0, the node_* series go stale (an instant query no
# longer returns them while their history stays), and the target says "down".
# Everything runs on 127.0.0.1; every wait is bounded; peers are killed on exit.
source "$(dirname "$0")/lib.sh"

NE_BIN=$(command -v prometheus-node-exporter || true)
if [ -z "$NE_BIN" ]; then
  echo "prometheus-node-exporter is not installed (run: scripts/deps.sh test)"
  exit 1
fi

# --- node_exporter on a free port, with a few light collectors
launch_node_exporter() {
  exec "$NE_BIN" --web.listen-address="127.0.0.1:$1" --collector.disable-defaults \
    --collector.cpu --collector.meminfo --collector.loadavg --collector.stat
}
start_peer node_exporter /metrics 50 0.1 launch_node_exporter
NE_PID=$PEER_PID NE_PORT=$PEER_PORT
ok "node_exporter serves on 127.0.0.1:$NE_PORT"

# --- a bad scrape config stops the server with file:line:col and the key
cat >"$T_DIR/bad.yml" <<'YML'
scrape_configs:
  - job_name: node
    scrape_interval: 5s
    scrape_timeout: 10s
YML
out=$("$STRATA_BIN" serve --listen 127.0.0.1:0 --data-dir "$T_DIR/bad" --config "$T_DIR/bad.yml" 2>&1 || true)
check "bad scrape config names file:line:col" grep -q 'bad.yml:4:21: scrape_configs\[0\]: scrape timeout greater than scrape interval for scrape config with job name' <<<"$out"
cat >"$T_DIR/bad2.yml" <<'YML'
scrape_configs:
  - job_name: node
    relabel_configs: []
YML
out=$("$STRATA_BIN" serve --listen 127.0.0.1:0 --data-dir "$T_DIR/bad" --config "$T_DIR/bad2.yml" 2>&1 || true)
check "unsupported Prometheus keys are refused" grep -q "bad2.yml:3:5: scrape_configs\[0\].relabel_configs: not supported" <<<"$out"

cat >"$T_DIR/strata.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:$NE_PORT']
        labels: {env: it}
YML
start_strata --config "$T_DIR/strata.yml" --data-dir "$T_DIR/data"

# q EXPR [TIME]: instant query; sets BODY.
q() {
  local args=(-G --data-urlencode "query=$1")
  [ $# -ge 2 ] && args+=(--data-urlencode "time=$2")
  http GET /api/v1/query "${args[@]}"
}

# --- scraped: up is 1 for several scrapes, node_* series have several points
eventually 'up{job="node"} has 3+ samples, all 1' 30 '
import json, sys
r = json.loads(sys.argv[1])["data"]["result"]
assert len(r) == 1, r
vals = [v for _, v in r[0]["values"]]
assert len(vals) >= 3 and set(vals) == {"1"}, vals
' q 'up{job="node"}[60s]'

eventually "node_cpu_seconds_total has series with 3+ points and the target labels" 15 "
import json, sys
r = json.loads(sys.argv[1])['data']['result']
assert len(r) >= 2, r
for s in r:
    m = s['metric']
    assert m['job'] == 'node' and m['instance'] == '127.0.0.1:$NE_PORT' and m['env'] == 'it', m
    assert len(s['values']) >= 3, s
    ts = [t for t, _ in s['values']]
    assert ts == sorted(ts) and len(set(ts)) == len(ts), ts
" q 'node_cpu_seconds_total{job="node"}[60s]'

eventually "series API lists node_* metrics (load, memory, cpu)" 15 "
import json, sys
names = {s['__name__'] for s in json.loads(sys.argv[1])['data']}
for want in ('node_load1', 'node_memory_MemTotal_bytes', 'node_cpu_seconds_total'):
    assert want in names, (want, sorted(names)[:20])
assert len(names) >= 20, len(names)
" http GET /api/v1/series -G --data-urlencode 'match[]={__name__=~"node_.+",job="node"}'

eventually "scrape_samples_scraped counts the exposition" 15 "
import json, sys
r = json.loads(sys.argv[1])['data']['result']
assert len(r) == 1 and float(r[0]['value'][1]) > 100, r
" q 'scrape_samples_scraped{job="node"}'

curl -s --max-time 5 "http://127.0.0.1:$NE_PORT/metrics" -o "$T_DIR/ne.txt"
eventually "stored node_memory_MemTotal_bytes equals node_exporter's value" 15 "
import json, sys
r = json.loads(sys.argv[1])['data']['result']
want = [l.split()[1] for l in open('$T_DIR/ne.txt') if l.startswith('node_memory_MemTotal_bytes ')]
assert len(r) == 1 and len(want) == 1, (r, want)
assert float(r[0]['value'][1]) == float(want[0]), (r, want)
" q 'node_memory_MemTotal_bytes{job="node"}'

eventually "/api/v1/targets: node target up" 15 "
import json, sys
d = json.loads(sys.argv[1])['data']
t = d['activeTargets']
assert len(t) == 1 and d['droppedTargets'] == [], d
t = t[0]
assert t['health'] == 'up' and t['lastError'] == '', t
assert t['scrapePool'] == 'node' and t['scrapeUrl'] == 'http://127.0.0.1:$NE_PORT/metrics', t
assert t['labels'] == {'instance': '127.0.0.1:$NE_PORT', 'job': 'node', 'env': 'it'}, t
assert t['discoveredLabels']['__address__'] == '127.0.0.1:$NE_PORT', t
assert t['scrapeInterval'] == '1s' and t['scrapeTimeout'] == '1s', t
assert t['lastScrape'].endswith('Z') and 0 < t['lastScrapeDuration'] < 1, t
" http GET /api/v1/targets

# --- node_exporter goes away: up 0, series stale
stop_peer "$NE_PID" KILL
eventually 'up{job="node"} becomes 0' 20 '
import json, sys
r = json.loads(sys.argv[1])["data"]["result"]
assert len(r) == 1 and r[0]["value"][1] == "0", r
' q 'up{job="node"}'

eventually "node series are stale (instant query returns nothing)" 15 "
import json, sys
assert json.loads(sys.argv[1])['data']['result'] == [], sys.argv[1]
" q 'node_memory_MemTotal_bytes{job="node"}'
eventually "node_load1 is stale too" 15 "
import json, sys
assert json.loads(sys.argv[1])['data']['result'] == [], sys.argv[1]
" q 'node_load1{job="node"}'
eventually "their history stays" 15 "
import json, sys
r = json.loads(sys.argv[1])['data']['result']
assert len(r) == 1 and len(r[0]['values']) >= 3, r
" q 'node_memory_MemTotal_bytes{job="node"}[5m]'

eventually "/api/v1/targets: node target down with an error" 15 "
import json, sys
t = json.loads(sys.argv[1])['data']['activeTargets'][0]
assert t['health'] == 'down' and 'Get \"http://127.0.0.1:$NE_PORT/metrics\"' in t['lastError'], t
" http GET /api/v1/targets

check "SIGTERM exits 0 within 30 s" stop_strata
finish
