#!/usr/bin/env bash
# test_query_timeout.sh: the per-request timeout parameter of /api/v1/query and
# /api/v1/query_range bounds the query (together with query.timeout, the earlier wins):
# a slow query (a 1 s subquery over a day) with timeout=1ms answers 503 with errorType
# "timeout", also through the range cache; without the parameter, and with a generous
# one, it answers 200; a bad timeout is 400.
source "$(dirname "$0")/lib.sh"

start_strata --data-dir "$T_DIR/data"

now=$(date +%s)
base=$((now - 3600))
lp=""
for i in $(seq 0 240); do
  lp+="load,host=a v=$((i % 7)) $((base + i * 15))"$'\n'
done
http POST "/write?precision=s" --data-binary "$lp"
check "write answers 204" test "$HTTP_CODE" = 204
for _ in $(seq 1 100); do  # bounded wait until the consumer applied the write
  http GET "/api/v1/query" -G --data-urlencode "query=count_over_time(load_v[2h])" \
    --data-urlencode "time=$now"
  grep -q '"241"' <<<"$BODY" && break
  sleep 0.1
done
check "the samples are visible" grep -q '"241"' <<<"$BODY"

slow="max_over_time(rate(load_v[1m])[1d:1s])"   # 86,400 inner steps per evaluation
is_timeout() { # is_timeout: the last answer is 503 errorType timeout
  [ "$HTTP_CODE" = 503 ] && python3 -c '
import json, sys; d = json.loads(sys.argv[1])
sys.exit(0 if d["status"] == "error" and d["errorType"] == "timeout" else 1)' "$BODY"
}

http GET "/api/v1/query" -G --data-urlencode "query=$slow" --data-urlencode "time=$now" \
  --data-urlencode "timeout=1ms"
check "instant query with timeout=1ms is 503 timeout (got $HTTP_CODE ${BODY:0:200})" is_timeout
http GET "/api/v1/query" -G --data-urlencode "query=$slow" --data-urlencode "time=$now" \
  --data-urlencode "timeout=0.001"
check "timeout in seconds (0.001) is applied too (got $HTTP_CODE)" is_timeout
http POST "/api/v1/query" --data-urlencode "query=$slow" --data-urlencode "time=$now" \
  --data-urlencode "timeout=1ms"
check "POST form timeout=1ms is 503 timeout (got $HTTP_CODE)" is_timeout
http GET "/api/v1/query" -G --data-urlencode "query=$slow" --data-urlencode "time=$now"
check "without timeout the same query is 200 (got $HTTP_CODE ${BODY:0:200})" test "$HTTP_CODE" = 200
http GET "/api/v1/query" -G --data-urlencode "query=$slow" --data-urlencode "time=$now" \
  --data-urlencode "timeout=2m"
check "with timeout=2m it is 200 (got $HTTP_CODE)" test "$HTTP_CODE" = 200

# Range queries go through the range cache: old steps are cacheable, so the cache
# evaluates them, under the request's deadline.
range() { # range TIMEOUT...
  http GET "/api/v1/query_range" -G --data-urlencode "query=$slow" \
    --data-urlencode "start=$((now - 1800))" --data-urlencode "end=$((now - 600))" \
    --data-urlencode "step=300" "$@"
}
range --data-urlencode "timeout=1ms"
check "query_range with timeout=1ms is 503 timeout (got $HTTP_CODE ${BODY:0:200})" is_timeout
range
check "query_range without timeout is 200 (got $HTTP_CODE)" test "$HTTP_CODE" = 200

http GET "/api/v1/query" -G --data-urlencode "query=load_v" --data-urlencode "timeout=abc"
check "a bad timeout is 400 (got $HTTP_CODE)" test "$HTTP_CODE" = 400

stop_strata
finish
