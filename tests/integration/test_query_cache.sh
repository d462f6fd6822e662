#!/usr/bin/env bash
# test_query_cache.sh: the range-read cache through the HTTP API: the same
# /api/v1/query_range twice gives identical bodies, the second answered from cache
# (strata_query_cache_* on /metrics), a spelling variant of the expression shares the
# entry, a late write (a sample older than the cached steps) invalidates the entry so
# the next answer includes it and equals an uncached evaluation, and
# query.cache_max_bytes: 0 disables the cache.
source "$(dirname "$0")/lib.sh"

cat >"$T_DIR/strata.yml" <<'YML'
query:
  cache_freshness: 1m
storage:
  out_of_order_window: 2h
YML
start_strata --config "$T_DIR/strata.yml" --data-dir "$T_DIR/data"

# An hour of data for two hosts every 30 s, ending 10 minutes ago.
now=$(date +%s)
base=$((now - 3600 - 600))
lp=""
for i in $(seq 0 120); do
  t=$((base + i * 30))
  lp+="cpu,host=a usage=$((i % 17)) $t"$'\n'
  lp+="cpu,host=b usage=$((i % 5)).5 $t"$'\n'
done
http POST "/write?precision=s" --data-binary "$lp"
check "write answers 204" test "$HTTP_CODE" = 204

metric() { # metric NAME: its value on /metrics
  http GET /metrics
  sed -n "s/^$1 //p" <<<"$BODY"
}

start=$((base - base % 60)); end=$((now - 600 - (now - 600) % 60))
q="rate(cpu_usage[2m])"
range() { # range QUERY: GET query_range over [start, end] step 60 into BODY
  http GET "/api/v1/query_range" -G --data-urlencode "query=$1" \
    --data-urlencode "start=$start" --data-urlencode "end=$end" --data-urlencode "step=60"
}

# Wait (bounded) until the consumers applied the write: the last sample is visible.
for i in $(seq 1 100); do
  http GET "/api/v1/query" -G --data-urlencode "query=count(cpu_usage)" \
    --data-urlencode "time=$((base + 3600))"
  grep -q '"2"' <<<"$BODY" && break
  sleep 0.1
done

range "$q"; first=$BODY
check "first query_range is 200" test "$HTTP_CODE" = 200
check "first answer has two series" python3 -c '
import json, sys
d = json.loads(sys.argv[1]); r = d["data"]["result"]
assert d["data"]["resultType"] == "matrix" and len(r) == 2, d
assert all(len(s["values"]) > 50 for s in r)' "$first"
check "first request is a miss" test "$(metric strata_query_cache_misses_total)" = 1
check "one entry cached" test "$(metric strata_query_cache_entries)" = 1
check "cache holds bytes" test "$(metric strata_query_cache_bytes)" -gt 1000

range "$q"; second=$BODY
check "second body is identical" test "$first" = "$second"
check "second request is a hit" test "$(metric strata_query_cache_hits_total)" = 1
range "rate( cpu_usage [120s] )"
check "a spelling variant shares the entry" test "$BODY" = "$first"
check "...and is a hit" test "$(metric strata_query_cache_hits_total)" = 2
check "still one entry" test "$(metric strata_query_cache_entries)" = 1

# A late write: a new host with samples 30 minutes ago, inside the cached steps.
late=$((now - 1800))
http POST "/write?precision=s" --data-binary "cpu,host=c usage=7 $late
cpu,host=c usage=9 $((late + 60))"
check "late write answers 204" test "$HTTP_CODE" = 204
for i in $(seq 1 100); do
  http GET "/api/v1/query" -G --data-urlencode "query=cpu_usage{host=\"c\"}" \
    --data-urlencode "time=$((late + 60))"
  grep -q '"c"' <<<"$BODY" && break
  sleep 0.1
done
range "$q"; third=$BODY
check "after the late write the answer changed" test "$third" != "$first"
check "it includes the late series" python3 -c '
import json, sys
r = json.loads(sys.argv[1])["data"]["result"]
assert sorted(s["metric"]["host"] for s in r) == ["a", "b", "c"], r' "$third"
check "invalidation counted" test "$(metric strata_query_cache_invalidations_total)" -ge 1
range "($q)" # another key: evaluated from scratch
check "cached answer equals an uncached evaluation" test "$third" = "$BODY"
check "metrics are typed" bash -c "curl -s '$STRATA_URL/metrics' | grep -q '^# TYPE strata_query_cache_evictions_total counter'"
stop_strata; check "clean shutdown" test $? -eq 0

# Disabled: nothing is cached, answers are the same.
cat >"$T_DIR/off.yml" <<'YML'
query:
  cache_max_bytes: 0
YML
start_strata --config "$T_DIR/off.yml" --data-dir "$T_DIR/data"
for i in $(seq 1 100); do
  range "$q"
  [ "$BODY" = "$third" ] && break
  sleep 0.1
done
check "disabled cache answers the same" test "$BODY" = "$third"
range "$q"
check "disabled cache counts nothing" test "$(metric strata_query_cache_hits_total)" = 0
check "disabled cache holds nothing" test "$(metric strata_query_cache_entries)" = 0
stop_strata
finish
