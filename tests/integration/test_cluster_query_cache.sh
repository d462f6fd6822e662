#!/usr/bin/env bash
# test_cluster_query_cache.sh: the range-read cache of a query node (cluster.role query,
# web/fanout_late.c polling the stores' GET /internal/v1/late) on librdkafka's mock
# cluster: 1 ingest + 2 stores + 1 query, query.cache_freshness 1m everywhere.
#  - a range query over old data is answered from cache the second time (data.stats.cache);
#  - a late write (older than the freshness window) through the ingest node invalidates
#    it: the next answer differs from the cached one by exactly that sample;
#  - the stores' late-marks endpoint answers its text format and refuses bad input;
#  - a store that is down makes requests bypass the cache (answers carry the partial
#    warning, never a cached result); a restarted store (new epoch) drops every entry.
# Every wait is bounded; the whole script takes about 15-25 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster_lib.sh"

start_mock strata-qcache
NODE_EXTRA=$'storage:\n  out_of_order_window: 3h\nquery:\n  cache_freshness: 1m'
for n in s1 s2; do node_config store $n strata-itqc; start_node $n; done
node_config ingest i1 strata-itqc; start_node i1
check "store s1 is ready" wait_ready s1
check "store s2 is ready" wait_ready s2
check "the consumer group splits the 4 partitions 2 + 2" wait_owned s1 2 s2 2
cat >"$T_DIR/q1.yml" <<YML
cluster:
  role: query
  node_id: q1
  stores: [${NODE_URL[s1]#http://}, ${NODE_URL[s2]#http://}]
query:
  cache_freshness: 1m
YML
start_node q1
check "query node q1 is ready" wait_ready q1

# --- an hour of data for 8 hosts every 60 s, ending 10 minutes ago
NOW=$(date +%s)
base=$((NOW - 4200 - NOW % 60))
lp=""
for i in $(seq 0 60); do
  for h in $(seq 1 8); do lp+="lc,host=h$h v=$i $((base + i * 60))"$'\n'; done
done
at i1
http POST "/write?precision=s" --data-binary "$lp"
check "the write is acknowledged ($HTTP_CODE)" test "$HTTP_CODE" = 204

# instant NAME EXPR T: the single value of an instant query on node NAME ("" if none)
instant() {
  at "$1"
  http GET /api/v1/query --get --data-urlencode "query=$2" --data-urlencode "time=$3"
  python3 -c '
import json, sys
d = json.load(sys.stdin)
r = d["data"]["result"] if d.get("status") == "success" else []
print(r[0]["value"][1] if r else "")' <"$T_DIR/body"
}
applied() { # applied EXPR T WANT: q1 answers WANT within 20 s
  for _ in $(seq 1 100); do
    [ "$(instant q1 "$1" "$2")" = "$3" ] && return 0
    sleep 0.2
  done
  echo "  $1 at $2 is $(instant q1 "$1" "$2"), wanted $3"
  return 1
}
check "the stores applied the data (count 8 at both ends)" \
  eval 'applied "count(lc_v)" $base 8 && applied "count(lc_v)" $((base + 3600)) 8'

# range NAME: sum(lc_v) over the hour, step 60, on q1; prints "<cache> <values...>"
START=$base
END=$((base + 3600))
range() {
  at q1
  http GET /api/v1/query_range --get --data-urlencode 'query=sum(lc_v)' \
    --data-urlencode "start=$START" --data-urlencode "end=$END" --data-urlencode 'step=60' \
    --data-urlencode 'stats=1'
  python3 -c '
import json, sys
d = json.load(sys.stdin)
if d.get("status") != "success":
    print("error", d.get("error")); sys.exit()
r = d["data"]["result"]
print(str(d["data"]["stats"]["cache"]).lower(), "warn" if d.get("warnings") else "ok",
      " ".join(v[1] for v in r[0]["values"]) if r else "")' <"$T_DIR/body"
}
first=$(range)
check "first range query is evaluated (${first:0:20})" test "${first%% *}" = false
second=$(range)
check "second range query is answered from cache" test "${second%% *}" = true
check "... with the same values" test "${first#* }" = "${second#* }"
check "... 61 steps of sum 8 x i" python3 -c '
import sys
v = sys.argv[1].split()[2:]
assert len(v) == 61 and all(float(x) == 8 * i for i, x in enumerate(v)), v[:5]' "$second"

# --- the store's late-marks endpoint
at s1
http GET /internal/v1/late
check "GET /internal/v1/late answers 200 with a reset on first contact" \
  eval '[ "$HTTP_CODE" = 200 ] && grep -q "^strata-late 1$" <<<"$BODY" && grep -q "^reset 1$" <<<"$BODY" && grep -q "^end$" <<<"$BODY"'
http GET "/internal/v1/late?since=x"
check "a bad since is 400 ($HTTP_CODE)" test "$HTTP_CODE" = 400
http GET "/internal/v1/late?watch=soon"
check "a bad watch is 400 ($HTTP_CODE)" test "$HTTP_CODE" = 400

# --- a late write through the ingest node: one more series at the middle step
MID=$((base + 1800))
at i1
http POST "/write?precision=s" --data-binary "lc,host=late v=1000 $MID"
check "the late write is acknowledged ($HTTP_CODE)" test "$HTTP_CODE" = 204
late_on_store() { # the late sample reached one of the stores (read directly, uncached)
  for _ in $(seq 1 100); do
    a=$(instant s1 'count(lc_v{host="late"})' "$MID"); b=$(instant s2 'count(lc_v{host="late"})' "$MID")
    [ "${a:-0}${b:-0}" = 10 ] || [ "${a:-0}${b:-0}" = 01 ] && return 0
    sleep 0.2
  done
  return 1
}
check "a store holds the late sample" late_on_store
third=$(range)
check "the next range answer includes the late sample exactly (+1000 from the middle step for the lookback)" \
  python3 -c '
import sys
a = [float(x) for x in sys.argv[1].split()[2:]]
b = [float(x) for x in sys.argv[2].split()[2:]]
assert len(a) == len(b) == 61, (len(a), len(b))
d = [y - x for x, y in zip(a, b)]
# visible from its step for the 5m lookback (the boundary step 35 per the engine rule)
assert all(d[i] == 1000 for i in range(30, 35)), d
assert all(d[i] == 0 for i in list(range(30)) + list(range(36, 61))), d' "$second" "$third"
fourth=$(range)
check "... and is cached again" test "${fourth%% *}" = true
check "... with the same values" test "${third#* }" = "${fourth#* }"

# --- a store down: bypass (never a cached answer while it cannot be polled)
kill -9 "${NODE_PID[s1]}"
wait "${NODE_PID[s1]}" 2>/dev/null || true
unset 'NODE_PID[s1]'
down=$(range)
check "with s1 down the answer is not from cache (${down:0:11})" test "${down%% *}" = false
check "... and carries the partial-result warning" test "$(cut -d' ' -f2 <<<"$down")" = warn

# --- s1 restarts (new epoch): every entry is dropped, then cached again
restart_node s1
check "store s1 is ready again" wait_ready s1
check "q1 sees every series again" applied "count(lc_v)" "$MID" 9
after=$(range)
check "after the restart the entry was dropped: evaluated (${after:0:11})" test "${after%% *}" = false
check "... the same values as before the restart" test "${after#* }" = "${fourth#* }"
again=$(range)
check "... and cached again" test "${again%% *}" = true

STRATA_PID=${NODE_PID[q1]}
check "q1 exits 0 on SIGTERM" stop_strata TERM
unset 'NODE_PID[q1]'
finish
