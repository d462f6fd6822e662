#!/usr/bin/env bash
# test_serve.sh: the first end-to-end slice against the real binary: command line,
# config errors, health endpoints, /metrics, a line-protocol write read back through
# /api/v1/query_range and /api/v1/query, and clean shutdown on SIGTERM and SIGINT.
source "$(dirname "$0")/lib.sh"

# --- command line
check "version prints the version" bash -c "'$STRATA_BIN' version | grep -q '^strata [0-9]'"
check "--help lists serve" bash -c "'$STRATA_BIN' --help | grep -q 'strata serve'"
check "unknown command exits 2" bash -c "'$STRATA_BIN' frobnicate 2>/dev/null; [ \$? -eq 2 ]"
check "unknown flag exits 2" bash -c "'$STRATA_BIN' serve --bogus 2>/dev/null; [ \$? -eq 2 ]"

# --- config errors name file:line:col and the key
cat >"$T_DIR/bad.yml" <<'YML'
server:
  listen: 127.0.0.1:0
  listne: 127.0.0.1:1
YML
out=$("$STRATA_BIN" serve --config "$T_DIR/bad.yml" 2>&1 || true)
check "config unknown key names file:line:col" grep -q "bad.yml:3:3: unknown key 'server.listne'" <<<"$out"
cat >"$T_DIR/bad2.yml" <<'YML'
storage:
  retention:
    raw: 7 days
YML
out=$("$STRATA_BIN" serve --config "$T_DIR/bad2.yml" 2>&1 || true)
check "config bad duration names the key" grep -q "bad2.yml:3:10: storage.retention.raw: invalid duration '7 days'" <<<"$out"

# --- start with a config file and a data dir flag
cat >"$T_DIR/good.yml" <<'YML'
log:
  level: debug
storage:
  out_of_order_window: 1h
YML
start_strata --config "$T_DIR/good.yml" --data-dir "$T_DIR/data"
check "data dir created" test -d "$T_DIR/data"
check "banner prints a curl example" grep -q "curl -i -XPOST" "$STRATA_LOG"

http GET /-/healthy; check "/-/healthy is 200" test "$HTTP_CODE" = 200
http GET /-/ready; check "/-/ready is 200" test "$HTTP_CODE" = 200
http GET /metrics
check "/metrics is 200" test "$HTTP_CODE" = 200
check "/metrics has build info" grep -q '^strata_build_info{version="' <<<"$BODY"

# --- write line protocol, read it back
now=$(date +%s)
t1=$((now - 60)); t2=$((now - 30)); t3=$now
lp="cpu,host=a,region=eu usage_user=10.5,usage_system=1i $t1
cpu,host=a,region=eu usage_user=11.5,usage_system=2i $t2
cpu,host=b,region=us usage_user=20,usage_system=3i $t3
mem,host=a value=42 $t3"
http POST "/write?precision=s" --data-binary "$lp"
check "POST /write answers 204" test "$HTTP_CODE" = 204

http GET "/api/v1/query_range?query=cpu_usage_user&start=$((now - 120))&end=$now&step=30"
check "query_range is 200" test "$HTTP_CODE" = 200
check "query_range returns a matrix" python3 - "$BODY" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
assert d["status"] == "success", d
r = d["data"]
assert r["resultType"] == "matrix", r
by_host = {s["metric"]["host"]: s for s in r["result"]}
assert set(by_host) == {"a", "b"}, by_host
a = by_host["a"]
assert a["metric"] == {"__name__": "cpu_usage_user", "host": "a", "region": "eu"}, a
# steps at now-120, -90, -60, -30, now; host a has samples at -60 and -30,
# so nothing before -60, then the newest sample within the 5m lookback.
vals = [v for _, v in a["values"]]
assert vals == ["10.5", "11.5", "11.5"], vals
assert all(isinstance(t, (int, float)) for t, _ in a["values"])
PY

http GET "/api/v1/query?query=mem&time=$now"
check "instant query for a 'value' field uses the measurement name" python3 - "$BODY" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
r = d["data"]["result"]
assert d["data"]["resultType"] == "vector" and len(r) == 1, d
assert r[0]["metric"] == {"__name__": "mem", "host": "a"} and r[0]["value"][1] == "42", r
PY

http GET "/api/v1/query?query=cpu_usage_system%7Bhost%3D%22b%22%7D&time=$now"
check "matcher selects one series" python3 -c "
import json,sys; d=json.loads(sys.argv[1]); r=d['data']['result']
assert len(r)==1 and r[0]['metric']['host']=='b' and r[0]['value'][1]=='3', d" "$BODY"

http POST "/api/v1/query_range" --data-urlencode "query=cpu_usage_user" \
  --data-urlencode "start=$((now - 120))" --data-urlencode "end=$now" --data-urlencode "step=30s"
check "query_range accepts POST form bodies" test "$HTTP_CODE" = 200

# --- bad input is answered with a clear 4xx and the server keeps serving
http GET "/api/v1/query_range?query=cpu_usage_user&start=$now&end=$((now - 100))&step=15"
check "end before start is 400" test "$HTTP_CODE" = 400
check "error says why" grep -q '"errorType":"bad_data"' <<<"$BODY"
http GET "/api/v1/query?query=sum("
check "parse error is 400" test "$HTTP_CODE" = 400
check "parse error names the position" grep -q '1:5: parse error' <<<"$BODY"
http POST "/write?precision=fortnight" --data-binary "x value=1"
check "unknown precision is 400" test "$HTTP_CODE" = 400
http POST "/write" --data-binary "cpu,host=a usage=1 $((now * 1000000000))
this is not line protocol"
check "partial write is 400" test "$HTTP_CODE" = 400
check "partial write names the bad line" grep -q 'partial write: line 2' <<<"$BODY"
http GET "/api/v1/query?query=cpu_usage&time=$now"
check "the good line of a partial write was stored" python3 -c "
import json,sys; d=json.loads(sys.argv[1]); assert len(d['data']['result'])==1, d" "$BODY"
http GET /no/such/path; check "unknown path is 404" test "$HTTP_CODE" = 404
http GET /-/healthy; check "still healthy after bad input" test "$HTTP_CODE" = 200

# --- shutdown
check "SIGTERM exits 0" stop_strata TERM
check "log says stopped cleanly" grep -q "stopped cleanly" "$STRATA_LOG"
start_strata --data-dir "$T_DIR/data2"
check "SIGINT exits 0" stop_strata INT

finish
