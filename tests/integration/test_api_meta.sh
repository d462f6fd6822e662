#!/usr/bin/env bash
# test_api_meta.sh: the Prometheus API endpoints beyond queries against the real binary:
# /api/v1/metadata (fed by an exposition import and by a scrape), query_exemplars,
# status/tsdb, format_query; Prometheus' error types and status codes (bad_data 400,
# execution 422, timeout 503); RFC 3339 and float times, duration steps; gzip responses.
# Expected messages and shapes are Prometheus 2.42's answers to the same requests.
source "$(dirname "$0")/lib.sh"
# Debian's python3 (scripts/deps.sh) starts 5x faster than a pyenv shim; ~60 JSON checks.
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3

DATA=${STRATA_SHARED_DATA:?}/node_exporter

# jcheck DESCRIPTION PYTHON: passes when PYTHON (with d = the JSON body) runs without error.
jcheck() {
  local d=$1 py=$2
  check "$d" "$PY" -c "import json,sys
d = json.loads(sys.argv[1])
$py" "$BODY"
}

# wait_for DESCRIPTION PATH PYTHON: poll PATH (GET) up to 20 s until PYTHON passes on it.
wait_for() {
  local d=$1 path=$2 py=$3 i
  for i in $(seq 1 100); do
    http GET "$path"
    if "$PY" -c "import json,sys
d = json.loads(sys.argv[1])
$py" "$BODY" 2>/dev/null; then ok "$d"; return; fi
    sleep 0.2
  done
  not_ok "$d (last answer: ${BODY:0:300})"
}

# A static exposition endpoint for the scraper: serves node_exporter_scrape.prom on an
# ephemeral port (printed on stdout).
cat >"$T_DIR/serve.py" <<'PY'
import http.server, sys
body = open(sys.argv[1], "rb").read()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
"$PY" "$T_DIR/serve.py" "$DATA/node_exporter_scrape.prom" >"$T_DIR/exp.port" &
EXP_PID=$!
trap 'kill $EXP_PID 2>/dev/null || true; cleanup' EXIT
for i in $(seq 1 50); do [ -s "$T_DIR/exp.port" ] && break; sleep 0.1; done
EXP_PORT=$(cat "$T_DIR/exp.port")

cat >"$T_DIR/strata.yml" <<YML
scrape_configs:
  - job_name: exp
    scrape_interval: 1s
    static_configs:
      - targets: ['127.0.0.1:$EXP_PORT']
YML
start_strata --config "$T_DIR/strata.yml" --data-dir "$T_DIR/d1"

# --- import 10 minutes of node_exporter scrapes (OpenMetrics, with # TYPE/# HELP)
zcat "$DATA/node_exporter_10m.om.gz" >"$T_DIR/ne.om"
http POST /api/v1/import/prometheus -H 'Content-Type: application/openmetrics-text; version=1.0.0' \
  --data-binary @"$T_DIR/ne.om"
check "import answers 204" test "$HTTP_CODE" = 204
# a small 0.0.4 body with metadata and known label cardinality, at the current time (the
# node_exporter capture is hours old, so the scrape's samples push it out of the head into
# a block, and status/tsdb describes the head, as Prometheus' does)
NOW_MS=$(($(date +%s) * 1000))
cat >"$T_DIR/small.prom" <<EOF
# HELP demo_requests_total Requests served.
# TYPE demo_requests_total counter
demo_requests_total{job="api",instance="a"} 1 $NOW_MS
demo_requests_total{job="api",instance="b"} 2 $NOW_MS
demo_requests_total{job="web",instance="a"} 3 $NOW_MS
EOF
http POST /api/v1/import/prometheus --data-binary @"$T_DIR/small.prom"
check "small import answers 204" test "$HTTP_CODE" = 204

# --- /api/v1/metadata
wait_for "metadata learned from the import" "/api/v1/metadata?metric=demo_requests_total" \
  'assert d["data"] == {"demo_requests_total": [{"type": "counter", "help": "Requests served.", "unit": ""}]}'
http GET "/api/v1/metadata?metric=node_cpu_seconds"
jcheck "OpenMetrics family metadata (counter without _total, as Prometheus)" \
  'assert d["data"]["node_cpu_seconds"] == [{"type": "counter", "help": "Seconds the CPUs spent in each mode.", "unit": ""}]'
http GET "/api/v1/metadata?limit=3"
jcheck "metadata limit=3 gives 3 metrics in name order" \
  'k = list(d["data"]); assert len(k) == 3 and k == sorted(k), k'
http GET "/api/v1/metadata?limit=0"
jcheck "metadata limit=0 gives none" 'assert d["data"] == {}'
http GET "/api/v1/metadata"
jcheck "metadata lists every family with type/help/unit" \
  'assert len(d["data"]) > 250; assert all(set(e) == {"type","help","unit"} for v in d["data"].values() for e in v)'
http GET "/api/v1/metadata?limit=x"
check "metadata limit=x is 400" test "$HTTP_CODE" = 400
jcheck "metadata limit=x says why" \
  'assert d == {"status": "error", "errorType": "bad_data", "error": "limit must be a number"}'
http GET "/api/v1/metadata?limit_per_metric=y"
check "metadata limit_per_metric=y is 400" test "$HTTP_CODE" = 400
http GET "/api/v1/metadata?metric=no_such_metric"
jcheck "metadata of an unknown metric is empty" 'assert d["data"] == {}'
# the scraped text is 0.0.4: families keep their _total names; the scrape adds its metadata
wait_for "metadata learned from a scrape" "/api/v1/metadata?metric=node_cpu_seconds_total" \
  'assert d["data"]["node_cpu_seconds_total"][0]["type"] == "counter"'

http GET /metrics
check "/metrics counts metadata families" grep -qE '^strata_ingest_metadata_families [1-9][0-9]+$' <<<"$BODY"

# --- /api/v1/query_exemplars
http GET "/api/v1/query_exemplars?query=node_load1&start=1795231500&end=1795232100"
jcheck "query_exemplars answers an empty list" 'assert d == {"status": "success", "data": []}'
http POST /api/v1/query_exemplars --data-urlencode 'query=rate(node_cpu_seconds_total[5m])' \
  --data-urlencode start=2026-11-21T00:00:00Z --data-urlencode end=2026-11-21T01:00:00.5Z
jcheck "query_exemplars by POST with RFC 3339 times" 'assert d["data"] == []'
http GET "/api/v1/query_exemplars?query=up&start=abc"
check "query_exemplars bad start is 400" test "$HTTP_CODE" = 400
jcheck "query_exemplars bad start message" \
  'assert d["error"] == "invalid parameter \"start\": Invalid time value for '"'"'start'"'"': cannot parse \"abc\" to a valid timestamp", d'
http GET "/api/v1/query_exemplars?query=up&start=10&end=1"
jcheck "query_exemplars end before start" \
  'assert d["errorType"] == "bad_data" and d["error"] == "end timestamp must not be before start timestamp"'
http GET "/api/v1/query_exemplars?query=up("
check "query_exemplars parse error is 400" test "$HTTP_CODE" = 400
jcheck "query_exemplars parse error message" \
  'assert d["error"] == "1:4: parse error: unclosed left parenthesis", d'
http GET "/api/v1/query_exemplars"
jcheck "query_exemplars without query" \
  'assert d["error"] == "1:1: parse error: no expression found in input", d'

# --- /api/v1/status/tsdb
wait_for "status/tsdb counts the scraped and imported series" "/api/v1/status/tsdb?limit=10000" \
  'm = {e["name"]: e["value"] for e in d["data"]["seriesCountByMetricName"]}; assert m.get("demo_requests_total") == 3 and d["data"]["headStats"]["numSeries"] > 500'
http GET "/api/v1/status/tsdb"
jcheck "status/tsdb has Prometheus' shape" '
x = d["data"]
assert set(x) == {"headStats", "seriesCountByMetricName", "labelValueCountByLabelName", "memoryInBytesByLabelName", "seriesCountByLabelValuePair"}
assert set(x["headStats"]) == {"numSeries", "numLabelPairs", "chunkCount", "minTime", "maxTime"}
h = x["headStats"]
assert h["minTime"] <= h["maxTime"] and h["chunkCount"] >= h["numSeries"] and h["numLabelPairs"] > 400, h
for k in list(x)[1:]:
    assert len(x[k]) == 10, (k, len(x[k]))
    assert all(set(e) == {"name", "value"} for e in x[k])
    v = [e["value"] for e in x[k]]
    assert v == sorted(v, reverse=True), (k, v)
'
http GET "/api/v1/status/tsdb?limit=2"
jcheck "status/tsdb limit=2" 'assert all(len(v) == 2 for k, v in d["data"].items() if k != "headStats")'
http GET "/api/v1/status/tsdb?limit=10000"
jcheck "status/tsdb counts demo_requests_total" '
m = {e["name"]: e["value"] for e in d["data"]["seriesCountByMetricName"]}
assert m["demo_requests_total"] == 3, m.get("demo_requests_total")
p = {e["name"]: e["value"] for e in d["data"]["seriesCountByLabelValuePair"]}
assert p["__name__=demo_requests_total"] == 3 and p["job=api"] >= 2
'
http GET "/api/v1/status/tsdb?limit=0"
check "status/tsdb limit=0 is 400" test "$HTTP_CODE" = 400
jcheck "status/tsdb limit=0 says why" 'assert d["error"] == "limit must be a positive number"'

# --- /api/v1/format_query
http GET "/api/v1/format_query" --get --data-urlencode 'query=sum(rate(x[5m]))by(job)'
jcheck "format_query prints canonically" 'assert d == {"status": "success", "data": "sum by (job) (rate(x[5m]))"}'
http POST "/api/v1/format_query" --data-urlencode "query=up{job=\"a\",instance!~'b.*'}"
jcheck "format_query by POST" 'assert d["data"] == "up{instance!~\"b.*\",job=\"a\"}", d'
http GET "/api/v1/format_query?query=sum("
check "format_query parse error is 400" test "$HTTP_CODE" = 400
jcheck "format_query parse error message" \
  'assert d == {"status": "error", "errorType": "bad_data", "error": "invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis"}'

# --- error types of query and query_range (web/api/v1/api.go)
T=1795232000
http GET "/api/v1/query?query=sum(&time=$T"
check "instant parse error is 400" test "$HTTP_CODE" = 400
jcheck "instant parse error is bad_data with the parameter" \
  'assert d["errorType"] == "bad_data" and d["error"] == "invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis", d'
http GET "/api/v1/query_range?query=sum(&start=0&end=10&step=1"
jcheck "range parse error is bad_data" \
  'assert d["errorType"] == "bad_data" and d["error"] == "1:5: parse error: unclosed left parenthesis", d'
http GET "/api/v1/query_range" --get --data-urlencode 'query=node_load1[5m]' -d start=0 -d end=10 -d step=1
check "range query of a range vector is 400" test "$HTTP_CODE" = 400
jcheck "range query of a range vector is bad_data" \
  'assert d["errorType"] == "bad_data" and d["error"].startswith("invalid expression type \"range vector\" for range query"), d'
http GET "/api/v1/query" --get --data-urlencode 'query=abs({__name__=~"node_load1|node_load5"})' -d time=$T
check "duplicate labelset is 422" test "$HTTP_CODE" = 422
jcheck "duplicate labelset is execution" \
  'assert d["errorType"] == "execution" and d["error"] == "vector cannot contain metrics with the same labelset", d'
http GET "/api/v1/query" --get --data-urlencode 'query={__name__=~"node_load1|node_load5"} + on() node_load1' -d time=$T
check "many-to-one without group_left is 422" test "$HTTP_CODE" = 422
jcheck "many-to-one message" \
  'assert d["errorType"] == "execution" and d["error"] == "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)", d'
http GET "/api/v1/query" --get \
  --data-urlencode 'query={__name__=~"node_load1|node_load5"} + on() group_left {__name__=~"node_load1|node_load15"}' -d time=$T
check "many-to-many is 422" test "$HTTP_CODE" = 422
jcheck "many-to-many is execution" \
  'assert d["errorType"] == "execution" and "many-to-many matching not allowed" in d["error"], d'
http GET "/api/v1/query" --get --data-urlencode 'query=label_replace(node_load1, "a", "x", "b", "(")' -d time=$T
jcheck "bad regex in label_replace is execution" \
  'assert d["errorType"] == "execution" and d["error"] == "invalid regular expression in label_replace(): (", d'
http GET "/api/v1/query_range?query=up&start=0&end=100000000&step=1"
jcheck "over 11,000 points is bad_data" \
  'assert d["errorType"] == "bad_data" and d["error"].startswith("exceeded maximum resolution of 11,000 points"), d'
http GET "/api/v1/query?query=up&time=abc"
jcheck "bad time message" \
  'assert d["error"] == "invalid parameter \"time\": Invalid time value for '"'"'time'"'"': cannot parse \"abc\" to a valid timestamp", d'
http GET "/api/v1/query?query=up&timeout=abc"
check "bad timeout is 400" test "$HTTP_CODE" = 400
jcheck "bad timeout message" \
  'assert d["error"] == "invalid parameter \"timeout\": cannot parse \"abc\" to a valid duration", d'
http GET "/api/v1/query?query=up&timeout=1m30s"
check "duration timeout is accepted" test "$HTTP_CODE" = 200
http GET "/api/v1/query_range?query=up&start=1&end=2&step=abc"
jcheck "bad step message" \
  'assert d["error"] == "invalid parameter \"step\": cannot parse \"abc\" to a valid duration", d'

# --- times and durations
http GET "/api/v1/query?query=time()&time=2026-11-21T07:08:00.5Z"
jcheck "RFC 3339 time with fraction" 'assert d["data"]["result"] == [1795244880.5, "1795244880.5"], d'
http GET "/api/v1/query?query=time()&time=1.5e9"
jcheck "float time with exponent" 'assert d["data"]["result"] == [1500000000, "1500000000"], d'
http GET "/api/v1/query?query=time()&time=1795244880.123"
jcheck "fractional unix time" 'assert d["data"]["result"] == [1795244880.123, "1795244880.123"], d'
http GET "/api/v1/query_range?query=time()&start=100&end=200&step=1m"
jcheck "step as a duration" 'assert d["data"]["result"][0]["values"] == [[100, "100"], [160, "160"]], d'
http GET "/api/v1/query_range?query=time()&start=100&end=103&step=1.5"
jcheck "step as float seconds" 'assert d["data"]["result"][0]["values"] == [[100, "100"], [101.5, "101.5"], [103, "103"]], d'
http GET "/api/v1/query_range?query=time()&start=2026-11-21T00:00:00Z&end=2026-11-21T00:03:00Z&step=1m30s"
jcheck "RFC 3339 range with a compound step" \
  'assert [v[0] for v in d["data"]["result"][0]["values"]] == [1795219200, 1795219290, 1795219380], d'

# --- gzip
out=$(curl -s -D "$T_DIR/hdr" -H 'Accept-Encoding: gzip' -o "$T_DIR/gz" \
  "$STRATA_URL/api/v1/query_range?query=node_cpu_seconds_total&start=1795231500&end=1795232100&step=1")
check "gzip when Accept-Encoding: gzip" grep -qi '^Content-Encoding: gzip' "$T_DIR/hdr"
check "gzip body decodes to a matrix" bash -c "zcat '$T_DIR/gz' | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d[\"data\"][\"resultType\"] == \"matrix\" and len(d[\"data\"][\"result\"]) == 16'"
curl -s -D "$T_DIR/hdr2" -o /dev/null "$STRATA_URL/api/v1/query_range?query=node_cpu_seconds_total&start=1795231500&end=1795232100&step=1"
check "no gzip without Accept-Encoding" bash -c "! grep -qi '^Content-Encoding' '$T_DIR/hdr2'"
curl -s -D "$T_DIR/hdr3" -H 'Accept-Encoding: gzip' -o "$T_DIR/gz3" "$STRATA_URL/api/v1/metadata"
check "metadata is gzipped too" grep -qi '^Content-Encoding: gzip' "$T_DIR/hdr3"
stop_strata

# --- limits: a timeout is 503 timeout, too many samples 422 execution
cat >"$T_DIR/limits.yml" <<'YML'
query:
  timeout: 10ms
YML
# (the same data directory: the store reopens its blocks and replays the log)
start_strata --config "$T_DIR/limits.yml" --data-dir "$T_DIR/d1"
wait_for "store reopened" "/api/v1/query?query=count(node_load1)&time=$T" \
  'assert d["data"]["result"][0]["value"][1] == "1"'
http GET "/api/v1/query_range" --get \
  --data-urlencode 'query=sum(rate({__name__=~".+"}[1m]))' -d start=1795231500 -d end=1795232100 -d step=0.06
check "timeout is 503" test "$HTTP_CODE" = 503
jcheck "timeout is errorType timeout" \
  'assert d["errorType"] == "timeout" and d["error"] == "query timed out in expression evaluation", d'
stop_strata
cat >"$T_DIR/samples.yml" <<'YML'
query:
  max_samples: 1000
YML
start_strata --config "$T_DIR/samples.yml" --data-dir "$T_DIR/d1"
wait_for "store replayed" "/api/v1/query?query=count(node_load1)&time=$T" \
  'assert d["data"]["result"][0]["value"][1] == "1"'
http GET "/api/v1/query" --get --data-urlencode 'query={__name__=~"node_.*"}[5m]' -d time=$T
check "too many samples is 422" test "$HTTP_CODE" = 422
jcheck "too many samples is execution" \
  'assert d["errorType"] == "execution" and d["error"] == "query processing would load too many samples into memory in query execution", d'
stop_strata

finish
