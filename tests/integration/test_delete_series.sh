#!/usr/bin/env bash
# test_delete_series.sh: Prometheus' delete_series and clean_tombstones admin API against
# the real binary (web/api_admin.c, tsdb/tombstones.c): 204 answers, deleted samples gone
# from query_range, /api/v1/series and instant queries at once, the range-read cache
# (filled before the deletion) not serving them, other series untouched, parameter errors
# (400 bad_data), the admin scope required with access control on, tombstones kept
# across a restart, and clean_tombstones removing the samples for good.
source "$(dirname "$0")/lib.sh"
start() { start_strata "$@" || { not_ok "strata starts"; finish; exit 1; }; }

H_ADMIN=$(echo admin-pw | "$STRATA_BIN" hash-password --cost 4)
H_RW=$(echo rw-pw | "$STRATA_BIN" hash-password --cost 4)
cat >"$T_DIR/strata.yml" <<YML
query:
  cache_freshness: 1m
auth:
  users:
    - {name: root, password_hash: '$H_ADMIN', scopes: [admin]}
    - {name: alice, password_hash: '$H_RW', scopes: [read, write]}
YML
start --config "$T_DIR/strata.yml" --data-dir "$T_DIR/data"
A=(-u root:admin-pw)
R=(-u alice:rw-pw)

# An hour of two series of one metric and one other metric every 60 s, ending 10 minutes ago.
now=$(date +%s)
base=$((now - 4200 - now % 60))
lp=""
for i in $(seq 0 60); do
  t=$((base + i * 60))
  lp+="disk,host=a used=$i $t"$'\n'
  lp+="disk,host=b used=$((i + 100)) $t"$'\n'
  lp+="mem,host=a used=$((i + 200)) $t"$'\n'
done
http POST "/write?precision=s" "${R[@]}" --data-binary "$lp"
check "write answers 204" test "$HTTP_CODE" = 204

last=$((base + 3600))
for i in $(seq 1 100); do # bounded wait until the consumers applied the write
  http GET "/api/v1/query" "${R[@]}" -G --data-urlencode "query=count(disk_used)" \
    --data-urlencode "time=$last"
  grep -q '"2"' <<<"$BODY" && break
  sleep 0.1
done

range() { # range QUERY: query_range over the hour, step 60, into BODY
  http GET "/api/v1/query_range" "${R[@]}" -G --data-urlencode "query=$1" \
    --data-urlencode "start=$base" --data-urlencode "end=$last" --data-urlencode "step=60"
}
points() { # points HOST: number of points of disk_used{host=HOST} in BODY
  jq "[.data.result[] | select(.metric.host == \"$1\") | .values | length] | add // 0" <<<"$BODY"
}
metric() { http GET /metrics "${R[@]}"; sed -n "s/^$1 //p" <<<"$BODY"; }

range "disk_used"
check "before: 61 points for host a" test "$(points a)" = 61
range "disk_used"
check "before: the second read is answered from cache" test "$(metric strata_query_cache_hits_total)" -ge 1

# --- errors and scope
http POST "/api/v1/admin/tsdb/delete_series" "${A[@]}"
check "no match[]: 400" test "$HTTP_CODE" = 400
check "no match[] message" grep -q 'no match\[\] parameter provided' <<<"$BODY"
http POST "/api/v1/admin/tsdb/delete_series" "${A[@]}" --data-urlencode 'match[]=disk_used{'
check "bad selector: 400 bad_data" bash -c "[ $HTTP_CODE = 400 ] && grep -q bad_data <<<'$BODY'"
http POST "/api/v1/admin/tsdb/delete_series" "${A[@]}" --data-urlencode 'match[]=disk_used' \
  --data-urlencode 'start=yesterday'
check "bad start: 400 naming it" bash -c "[ $HTTP_CODE = 400 ] && grep -q start <<<'$BODY'"
http POST "/api/v1/admin/tsdb/delete_series" "${R[@]}" --data-urlencode 'match[]=disk_used'
check "read/write user cannot delete: 403" test "$HTTP_CODE" = 403
http POST "/api/v1/admin/tsdb/delete_series" --data-urlencode 'match[]=disk_used'
check "no credentials: 401" test "$HTTP_CODE" = 401
http GET "/api/v1/admin/tsdb/delete_series" "${A[@]}" -G --data-urlencode 'match[]=disk_used'
check "GET is not a route: 404 or 405" bash -c "[ $HTTP_CODE = 404 ] || [ $HTTP_CODE = 405 ]"

# --- delete 20 minutes of host a (times as RFC 3339 and Unix seconds)
d0=$((base + 600)); d1=$((base + 1800))
http POST "/api/v1/admin/tsdb/delete_series" "${A[@]}" \
  --data-urlencode 'match[]=disk_used{host="a"}' \
  --data-urlencode "start=$(date -u -d "@$d0" +%Y-%m-%dT%H:%M:%SZ)" --data-urlencode "end=$d1"
check "delete_series answers 204" test "$HTTP_CODE" = 204
check "204 has no body" test -z "$BODY"

range "disk_used"
# Steps from d0 look back 5 minutes, so samples before d0 still fill steps up to d0+4m;
# the 21 samples in [d0, d1] are gone, and steps after d1+5m are back.
check "after: host a lost exactly the deleted samples' steps" test "$(points a)" = $((61 - 21 + 5))
check "after: host b untouched" test "$(points b)" = 61
range "count_over_time(disk_used{host=\"a\"}[1h])"
check "no deleted sample counted" test "$(jq -r '.data.result[0].values[-1][1]' <<<"$BODY")" = 40
http GET "/api/v1/query" "${R[@]}" -G --data-urlencode 'query=disk_used{host="a"}' \
  --data-urlencode "time=$((d0 + 900))"
check "instant query inside the deleted range: empty" test "$(jq '.data.result | length' <<<"$BODY")" = 0
http GET "/api/v1/query" "${R[@]}" -G --data-urlencode 'query=mem_used' \
  --data-urlencode "time=$((d0 + 900))"
check "other metric untouched" test "$(jq -r '.data.result[0].value[1]' <<<"$BODY")" = 225

# Everything of host b: it disappears from /api/v1/series.
http PUT "/api/v1/admin/tsdb/delete_series" "${A[@]}" --data-urlencode 'match[]=disk_used{host="b"}'
check "PUT delete_series answers 204" test "$HTTP_CODE" = 204
http GET "/api/v1/series" "${R[@]}" -G --data-urlencode 'match[]=disk_used' \
  --data-urlencode "start=$base" --data-urlencode "end=$last"
check "series lists host a only" test "$(jq -c '[.data[].host]' <<<"$BODY")" = '["a"]'

# --- restart: tombstones persist
stop_strata
check "tombstones file written" test -s "$T_DIR/data/tombstones"
start --config "$T_DIR/strata.yml" --data-dir "$T_DIR/data"
for i in $(seq 1 100); do # bounded wait for readiness (log replay)
  http GET /-/ready; [ "$HTTP_CODE" = 200 ] && break; sleep 0.1
done
range "disk_used"
check "after restart: host a still lacks the deleted samples" test "$(points a)" = 45
check "after restart: host b still gone" test "$(points b)" = 0

# --- clean_tombstones
http POST "/api/v1/admin/tsdb/clean_tombstones" -u alice:rw-pw
check "clean_tombstones needs admin: 403" test "$HTTP_CODE" = 403
http POST "/api/v1/admin/tsdb/clean_tombstones" "${A[@]}"
check "clean_tombstones answers 204" test "$HTTP_CODE" = 204
check "clean_tombstones emptied the tombstones" \
  test "$(stat -c %s "$T_DIR/data/tombstones")" -lt 100
range "disk_used"
check "after clean: host a still lacks the deleted samples" test "$(points a)" = 45
check "after clean: host b still gone" test "$(points b)" = 0
stop_strata
start --config "$T_DIR/strata.yml" --data-dir "$T_DIR/data"
for i in $(seq 1 100); do
  http GET /-/ready; [ "$HTTP_CODE" = 200 ] && break; sleep 0.1
done
range "disk_used"
check "after clean and restart (log replay): deleted samples stay gone" test "$(points a):$(points b)" = "45:0"
range "mem_used"
check "after clean and restart: other metric intact" \
  test "$(jq '.data.result[0].values | length' <<<"$BODY")" = 61
stop_strata
finish
