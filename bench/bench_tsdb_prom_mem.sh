#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench_tsdb_prom_mem.sh: Prometheus 2.42's head memory per active series, for comparison
# with bench_tsdb's "memory per series" line (same label shape: 5 labels, 250 metric
# names, 100k series).
#
# Usage: bench/bench_tsdb_prom_mem.sh [N_SERIES=100000] [SECONDS=130]
#
# Starts a tiny Python exporter on 127.0.0.1 serving N series whose values change every
# scrape (counters), and a throw-away Prometheus (Debian package `prometheus`) scraping
# it every 2 s with honor_labels (so the label sets are exactly the exported ones). After
# SECONDS (default 130 s: about 65 samples per series, one head chunk each, as in
# bench_tsdb), it reads Prometheus' own /metrics: Go heap in use and RSS, minus the same
# numbers from an identical Prometheus without targets, divided by
# prometheus_tsdb_head_series. Everything lives in a temporary directory that is removed
# at exit. Not run by ctest.
set -uo pipefail
N=${1:-100000}
DUR=${2:-130}
command -v prometheus >/dev/null || { echo "prometheus not installed (apt-get install prometheus)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/strata-prom-mem.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

cat > "$TMP/exporter.py" <<'EOF'
import http.server, sys
n = int(sys.argv[2]); scrape = [0]
names = ['bench_metric_%d{cpu="%d",instance="10.%d.%d.%d:9100",job="node",mode="user"} ' %
         (i % 250, i % 4, i // 65536 % 256, i // 250 // 256 % 256, i // 250 % 256) for i in range(n)]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        scrape[0] += 1
        k = scrape[0]
        body = "".join("%s%d\n" % (names[i], k * (i % 17 + 1) + i) for i in range(n)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF

metric() { # metric NAME PORT: first sample value of NAME from Prometheus' /metrics
  curl -s --max-time 30 "http://127.0.0.1:$2/metrics" |
    awk -v m="$1" '$1 == m { printf "%.0f\n", $2; exit }'
}

start_prom() { # start_prom NAME TARGET_PORT(or empty); sets PORT (no subshell: PIDS)
  local port; port=$(free_port)
  mkdir -p "$TMP/$1"
  {
    echo "global: {scrape_interval: 2s, scrape_timeout: 2s}"
    echo "scrape_configs:"
    if [ -n "$2" ]; then
      echo "- job_name: bench"
      echo "  honor_labels: true"
      echo "  static_configs: [{targets: ['127.0.0.1:$2']}]"
    fi
  } > "$TMP/$1/prom.yml"
  prometheus --config.file="$TMP/$1/prom.yml" --storage.tsdb.path="$TMP/$1/data" \
    --web.listen-address="127.0.0.1:$port" > "$TMP/$1/log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null && break; sleep 0.2; done
  PORT=$port
}

EXP=$(free_port)
python3 "$TMP/exporter.py" "$EXP" "$N" &
PIDS+=($!)
sleep 1
start_prom base ""
BASE=$PORT
start_prom load "$EXP"
LOAD=$PORT
echo "prometheus: scraping $N series every 2 s for $DUR s ..."
sleep "$DUR"
SER=$(metric prometheus_tsdb_head_series "$LOAD")
[ -n "$SER" ] && [ "$SER" -gt 0 ] || { echo "prometheus did not report head series" >&2; exit 1; }
CH=$(metric prometheus_tsdb_head_chunks "$LOAD")
H1=$(metric go_memstats_heap_inuse_bytes "$LOAD"); H0=$(metric go_memstats_heap_inuse_bytes "$BASE")
R1=$(metric process_resident_memory_bytes "$LOAD"); R0=$(metric process_resident_memory_bytes "$BASE")
echo "prometheus 2.42: head series $SER, head chunks $CH"
awk -v h1="$H1" -v h0="$H0" -v r1="$R1" -v r0="$R0" -v s="$SER" 'BEGIN {
  printf "prometheus 2.42: Go heap in use %.0f B/series, RSS %.0f B/series (minus an idle server)\n",
         (h1 - h0) / s, (r1 - r0) / s }'
