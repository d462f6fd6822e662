#!/usr/bin/env bash
# test_series_limits.sh: ingest.max_series and ingest.max_series_per_metric.
#
# With max_series 6 and max_series_per_metric 4: new series within the limits are
# accepted; a write that would create a fifth series of one metric gets 429 naming the
# limit and the metric, its other samples (existing series, other metrics) are still
# written; samples of existing series keep being accepted; the total limit refuses a
# seventh series of any metric, on every write API (Influx v1 and v2, remote write through
# the import path, exposition import); after a restart the limits still count the stored
# series (the limiter is seeded from the store).
source "$(dirname "$0")/lib.sh"
start() { start_strata "$@" || { not_ok "strata starts"; finish; exit 1; }; }

cat >"$T_DIR/lim.yml" <<YML
ingest:
  partitions: 2
  max_series: 6
  max_series_per_metric: 4
YML
start --config "$T_DIR/lim.yml" --data-dir "$T_DIR/data"
NOW=$(date +%s)
w() { http POST "/write?precision=s" --data-binary "$1"; }
count() { # count QUERY: number of series the query returns
  http GET "/api/v1/query" --data-urlencode "query=$1" --data-urlencode "time=$NOW" -G
  python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])["data"]["result"]))' "$BODY"
}

w "$(printf 'cpu,h=%s v=1 %s\n' 1 "$NOW" 2 "$NOW" 3 "$NOW")"
check "three new series accepted" test "$HTTP_CODE" = 204
w "$(printf 'cpu,h=4 v=1 %s\ncpu,h=5 v=1 %s\ncpu,h=1 v=2 %s\nmem,h=1 v=1 %s\n' "$NOW" "$NOW" "$((NOW + 1))" "$NOW")"
check "a fifth cpu series: 429" test "$HTTP_CODE" = 429
check "429 names the limit and the metric" \
  grep -q "ingest.max_series_per_metric 4 reached for metric 'cpu_v'" <<<"$BODY"
for i in $(seq 1 50); do [ "$(count cpu_v)" = 4 ] && break; sleep 0.1; done
check "the other new series of the request were written (4 cpu series)" test "$(count cpu_v)" = 4
check "and the other metric's series" test "$(count mem_v)" = 1
w "cpu,h=1 v=3 $((NOW + 2))"
check "existing series keep being accepted" test "$HTTP_CODE" = 204
w "$(printf 'disk,h=1 v=1 %s\ndisk,h=2 v=1 %s\n' "$NOW" "$NOW")"
check "429 from the total limit (5 + 2 > 6)" test "$HTTP_CODE" = 429
check "429 names max_series" grep -q "ingest.max_series 6 reached: new series for metric 'disk_v'" <<<"$BODY"
http POST "/api/v2/write?bucket=b&precision=s" --data-binary "net,h=1 v=1 $NOW"
check "Influx v2: 429" test "$HTTP_CODE" = 429
http POST "/api/v1/import/prometheus" --data-binary "imp_new 1 ${NOW}000"
check "exposition import: 429" test "$HTTP_CODE" = 429
check "import 429 names the limit" grep -q "ingest.max_series 6 reached" <<<"$BODY"
http POST "/api/v1/import/prometheus" --data-binary "cpu_v{h=\"1\"} 9 $(( (NOW + 3) * 1000 ))"
check "import of an existing series still works" test "$HTTP_CODE" = 204
stop_strata

start --config "$T_DIR/lim.yml" --data-dir "$T_DIR/data"
for i in $(seq 1 100); do http GET /-/ready; [ "$HTTP_CODE" = 200 ] && break; sleep 0.1; done
w "cpu,h=9 v=1 $((NOW + 4))"
check "after a restart the stored series still count (429)" test "$HTTP_CODE" = 429
w "cpu,h=2 v=5 $((NOW + 4))"
check "after a restart existing series are accepted" test "$HTTP_CODE" = 204
stop_strata

printf 'ingest:\n  max_series: -1\n' >"$T_DIR/bad.yml"
out=$("$STRATA_BIN" serve --listen 127.0.0.1:0 --data-dir "$T_DIR/d2" --config "$T_DIR/bad.yml" 2>&1 || true)
check "a negative limit is a config error with its position" grep -q 'bad.yml:2:.*ingest.max_series' <<<"$out"
finish
