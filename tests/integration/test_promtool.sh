#!/usr/bin/env bash
# test_promtool.sh: Prometheus API clients against the real binary, unmodified: Debian's
# `promtool query instant|range|series|labels` on data imported through
# /api/v1/import/prometheus, and the sequence of calls Grafana's Prometheus data source
# makes on "Save & test" and for a dashboard panel (buildinfo, 1+1, labels, label values
# with match[], series, metadata, query_range and query_exemplars as POST forms), each
# checked for Prometheus' response shape.
source "$(dirname "$0")/lib.sh"
# Debian's python3 (scripts/deps.sh) starts 5x faster than a pyenv shim; ~60 JSON checks.
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3

command -v promtool >/dev/null || { echo "promtool missing (scripts/deps.sh test installs prometheus)"; exit 1; }

# jcheck DESCRIPTION PYTHON: passes when PYTHON (with d = the JSON body) runs without error.
jcheck() {
  local d=$1 py=$2
  check "$d" "$PY" -c "import json,sys
d = json.loads(sys.argv[1])
$py" "$BODY"
}

start_strata --data-dir "$T_DIR/data"

# --- data: two gauges and a counter every 15 s for 10 minutes, ending one step ago
NOW=$(date +%s)
B=$(( (NOW - 615) / 15 * 15 )) # first sample, aligned to 15 s
{
  echo "# HELP pt_temp Room temperature."
  echo "# TYPE pt_temp gauge"
  for i in $(seq 0 40); do
    t=$(( (B + 15 * i) * 1000 ))
    echo "pt_temp{site=\"x\",room=\"a\"} $i $t"
    echo "pt_temp{site=\"x\",room=\"b\"} $((100 + i)) $t"
  done
  echo "# HELP pt_requests_total Requests handled."
  echo "# TYPE pt_requests_total counter"
  for i in $(seq 0 40); do
    echo "pt_requests_total{site=\"x\",code=\"200\"} $((30 * i)) $(( (B + 15 * i) * 1000 ))"
  done
} >"$T_DIR/pt.prom"
http POST /api/v1/import/prometheus --data-binary @"$T_DIR/pt.prom"
check "import answers 204" test "$HTTP_CODE" = 204
# the store applies the durable log asynchronously: wait (bounded) until all is visible
for i in $(seq 1 100); do
  http GET "/api/v1/query?query=count(pt_temp)%2Bcount(pt_requests_total)&time=$((B + 600))"
  grep -q '"3"' <<<"$BODY" && break
  sleep 0.1
done
check "imported series are visible" grep -q '"3"' <<<"$BODY"

# --- promtool query instant (POST form, falls back to GET)
rc=0; out=$(promtool query instant "$STRATA_URL" 'pt_temp' --time=$((B + 60)) 2>&1) || rc=$?
check "promtool query instant exits 0" test $rc -eq 0
check "instant: room a at step 4" grep -qxF "pt_temp{room=\"a\", site=\"x\"} => 4 @[$((B + 60))]" <<<"$out"
check "instant: room b at step 4" grep -qxF "pt_temp{room=\"b\", site=\"x\"} => 104 @[$((B + 60))]" <<<"$out"
check "instant: two lines" test "$(wc -l <<<"$out")" -eq 2
out=$(promtool query instant "$STRATA_URL" 'sum(rate(pt_requests_total[1m]))' --time=$((B + 300)) 2>&1) || true
check "instant: rate of a 2/s counter" grep -qxF "{} => 2 @[$((B + 300))]" <<<"$out"
out=$(promtool query instant -o json "$STRATA_URL" 'pt_temp{room="a"}' --time=$((B + 30)) 2>&1) || true
check "instant -o json" "$PY" -c "import json,sys
v = json.loads(sys.argv[1])
assert v == [{'metric': {'__name__': 'pt_temp', 'room': 'a', 'site': 'x'}, 'value': [$((B + 30)), '2']}], v" "$out"
rc=0; out=$(promtool query instant "$STRATA_URL" 'sum(' 2>&1) || rc=$?
check "instant: a parse error fails" test $rc -ne 0
check "instant: parse error is reported as bad_data" grep -qF 'bad_data: invalid parameter "query": 1:5: parse error: unclosed left parenthesis' <<<"$out"

# --- promtool query range
rc=0; out=$(promtool query range "$STRATA_URL" 'pt_temp{room="b"}' --start=$B --end=$((B + 60)) --step=30s 2>&1) || rc=$?
check "promtool query range exits 0" test $rc -eq 0
want="pt_temp{room=\"b\", site=\"x\"} =>
100 @[$B]
102 @[$((B + 30))]
104 @[$((B + 60))]"
check "range: values at three steps" test "$out" = "$want"
out=$(promtool query range "$STRATA_URL" 'max(pt_temp) - min(pt_temp)' \
  --start="$(date -u -d @$B +%Y-%m-%dT%H:%M:%SZ)" --end="$(date -u -d @$((B + 15)) +%Y-%m-%dT%H:%M:%SZ)" --step=15s 2>&1) || true
check "range: RFC 3339 start/end" test "$out" = "{} =>
100 @[$B]
100 @[$((B + 15))]"

# --- promtool query series / labels
rc=0; out=$(promtool query series "$STRATA_URL" --match='pt_temp' --match='{__name__="pt_requests_total"}' 2>&1) || rc=$?
check "promtool query series exits 0" test $rc -eq 0
check "series: three series" test "$(wc -l <<<"$out")" -eq 3
check "series: counter listed" grep -qxF '{__name__="pt_requests_total", code="200", site="x"}' <<<"$out"
check "series: gauge listed" grep -qxF '{__name__="pt_temp", room="a", site="x"}' <<<"$out"
out=$(promtool query labels "$STRATA_URL" room 2>&1) || true
check "promtool query labels room" test "$out" = "a
b"
out=$(promtool query labels "$STRATA_URL" __name__ 2>&1) || true
check "labels __name__ lists both metrics" bash -c "grep -qx pt_temp <<<'$out' && grep -qx pt_requests_total <<<'$out'"

# --- Grafana's Prometheus data source: "Save & test"
http GET /api/v1/status/buildinfo
jcheck "buildinfo has version" 'assert d["status"] == "success" and isinstance(d["data"]["version"], str)'
http POST /api/v1/query --data-urlencode 'query=1+1' -d "time=$NOW"
jcheck "health check 1+1 is scalar 2" 'assert d["data"]["resultType"] == "scalar" and d["data"]["result"][1] == "2"'

# --- a dashboard panel and the query editor (httpMethod POST, the default)
S=$((NOW - 3600)); E=$NOW
http POST /api/v1/labels -d "start=$S" -d "end=$E"
jcheck "labels: names" 'assert {"__name__", "room", "site", "code"} <= set(d["data"]), d'
http GET "/api/v1/label/__name__/values?start=$S&end=$E"
jcheck "label values of __name__" 'assert {"pt_temp", "pt_requests_total"} <= set(d["data"])'
http GET "/api/v1/label/room/values" --get --data-urlencode 'match[]=pt_temp{site="x"}' -d "start=$S" -d "end=$E"
jcheck "label values with match[]" 'assert d["data"] == ["a", "b"], d'
http GET "/api/v1/label/code/values" --get --data-urlencode 'match[]=pt_temp' -d "start=$S" -d "end=$E"
jcheck "label values restricted by match[]" 'assert d["data"] == [], d'
http POST /api/v1/series --data-urlencode 'match[]=pt_temp' -d "start=$S" -d "end=$E"
jcheck "series by POST form" \
  'assert d["data"] == [{"__name__": "pt_temp", "room": "a", "site": "x"}, {"__name__": "pt_temp", "room": "b", "site": "x"}], d'
http GET /api/v1/metadata
jcheck "metadata for the editor" '
assert d["data"]["pt_temp"] == [{"type": "gauge", "help": "Room temperature.", "unit": ""}]
assert d["data"]["pt_requests_total"] == [{"type": "counter", "help": "Requests handled.", "unit": ""}]'
http GET "/api/v1/metadata?metric=pt_temp&limit=1"
jcheck "metadata of one metric" 'assert list(d["data"]) == ["pt_temp"]'
http POST /api/v1/query_range --data-urlencode 'query=sum by (site) (rate(pt_requests_total[1m]))' \
  -d "start=$((B + 120))" -d "end=$((B + 240))" -d step=60
jcheck "panel query_range by POST form" '
r = d["data"]["result"]
assert d["data"]["resultType"] == "matrix" and len(r) == 1 and r[0]["metric"] == {"site": "x"}
assert [v[1] for v in r[0]["values"]] == ["2", "2", "2"], r
assert all(isinstance(v[0], (int, float)) and isinstance(v[1], str) for v in r[0]["values"])'
http POST /api/v1/query_exemplars --data-urlencode 'query=sum by (site) (rate(pt_requests_total[1m]))' \
  -d "start=$S" -d "end=$E"
jcheck "exemplars for the panel" 'assert d == {"status": "success", "data": []}'
http POST /api/v1/query --data-urlencode 'query=pt_temp' -d "time=$((B + 600))"
jcheck "instant table query" '
assert d["data"]["resultType"] == "vector"
assert sorted(r["value"][1] for r in d["data"]["result"]) == ["140", "40"], d'

stop_strata
finish
