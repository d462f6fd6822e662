#!/usr/bin/env bash
# test_cluster_replicas.sh: replication-aware query fan-out (web/fanout.c, fanout_plan.c,
# api_internal.c) on librdkafka's mock cluster: 2 ingest + 2 replica groups x 2 stores +
# 1 query node, the stores behind an auth: section (the query node sends
# cluster.store_auth from a token file).
#  - store status (/internal/v1/status): node, replica group, per partition owned and
#    caught up; the query node's plan reads each partition from one replica (the stores'
#    series_sent counters add up to the series count exactly once);
#  - under write load, kill -9 one store replica: count, sum, a range query, series and
#    label values through the query node stay identical to the answers before the kill
#    for the data acknowledged before it, with no warning; everything acknowledged during
#    the load is eventually answered;
#  - restart it on the same address: it catches up (caught_up in its status) and its own
#    answers for its partitions equal the other replica group's;
#  - auth: the internal API refuses requests without credentials; a query node without
#    cluster.store_auth fails with a message naming it.
# Every wait and loop is bounded; the script takes about 45-70 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster_lib.sh"
T_START=$(date +%s)

start_mock strata-rep
check "mock cluster prints its bootstrap servers" grep -q '^127\.0\.0\.1:[0-9]*$' <<<"$BROKERS"

TOKEN="replica-reader-$$-$RANDOM"
H_TOKEN=$(echo "$TOKEN" | "$STRATA_BIN" hash-password --cost 4)
printf '%s\n' "$TOKEN" >"$T_DIR/store.token"
AUTH=(-H "Authorization: Bearer $TOKEN")
CL_AUTH=("${AUTH[@]}")

# --- 4 stores (replica groups a and b) with auth, 2 ingest nodes without
NODE_EXTRA="auth:
  tokens:
    - {name: query, token_hash: '$H_TOKEN', scopes: [read]}"
for n in a1 a2; do node_config store $n strata-itr a; start_node $n; done
for n in b1 b2; do node_config store $n strata-itr b; start_node $n; done
NODE_EXTRA=""
for n in i1 i2; do node_config ingest $n strata-itr; start_node $n; done
for n in a1 a2 b1 b2; do check "store $n is ready" wait_ready $n; done
check "replica group a splits the 4 partitions 2 + 2" wait_owned a1 2 a2 2
check "replica group b splits the 4 partitions 2 + 2" wait_owned b1 2 b2 2
STORES="${NODE_URL[a1]#http://}, ${NODE_URL[a2]#http://}, ${NODE_URL[b1]#http://}, ${NODE_URL[b2]#http://}"
cat >"$T_DIR/q1.yml" <<YML
cluster:
  role: query
  node_id: q1
  stores: [$STORES]
  status_interval: 2s
  store_auth:
    token_file: store.token
YML
cat >"$T_DIR/q2.yml" <<YML
cluster:
  role: query
  node_id: q2
  stores: [$STORES]
YML
start_node q1
start_node q2
check "query node q1 is ready" wait_ready q1

# --- auth on the internal API
at a1
http POST /internal/v1/select --data-urlencode 'match=rq_v'
check "internal select without credentials is 401 ($HTTP_CODE)" test "$HTTP_CODE" = 401
http GET /internal/v1/status
check "store status without credentials is 401 ($HTTP_CODE)" test "$HTTP_CODE" = 401
at q2
http GET /api/v1/query --get --data-urlencode 'query=count(rq_v)'
check "a query node without cluster.store_auth fails naming it ($HTTP_CODE)" \
  grep -q 'cluster.store_auth' <<<"$BODY"

# status_json NAME: the store's status as JSON in $T_DIR/body
status_json() { at "$1"; http GET '/internal/v1/status?format=json' "${AUTH[@]}"; }
# field NAME EXPR: a Python expression over the status d of store NAME
field() { status_json "$1"; python3 -c "import json,sys; d=json.load(sys.stdin); print($2)" <"$T_DIR/body"; }
at a1
http POST /internal/v1/select "${AUTH[@]}" --data-urlencode 'match=rq_v' --data n_partitions=8 --data partitions=0
check "internal select planned with another partition count is 400 ($HTTP_CODE)" \
  grep -q 'this store has 4 log partitions, the request was planned with 8' <<<"$BODY"
status_json a1
check "store status names node and replica group" \
  grep -q '"node_id":"a1","replica_group":"a","n_partitions":4' <<<"$BODY"
# caught_up NAME: every partition the store owns is caught up, and it owns some
caught_up() {
  local o c
  o=$(field "$1" 'sum(1 for p in d["partitions"] if p["owned"])')
  c=$(field "$1" 'sum(1 for p in d["partitions"] if p["owned"] and p["caught_up"])')
  [ "${o:-0}" -gt 0 ] && [ "$o" = "$c" ]
}

# --- phase 1: 30 batches of 20 series, all acknowledged before the snapshot
NOW=$(date +%s)
write_batch() { # NODE PHASE BATCH: 20 series, value = batch; returns the HTTP code
  local lp="" h
  for h in $(seq 1 20); do lp+="rq,host=h$h,batch=b$3,phase=$2 v=$3 $((NOW - 5))"$'\n'; done
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST \
    "${NODE_URL[$1]}/write?precision=s" --data-binary "$lp" || true
}
acked1=0
for b in $(seq 1 30); do
  if [ $((b % 2)) = 0 ]; then n=i1; else n=i2; fi
  [ "$(write_batch $n 1 $b)" = 204 ] && acked1=$((acked1 + 1))
done
check "phase 1: 30 batches acknowledged ($acked1)" test "$acked1" = 30

# q NAME EXPR: instant query on NAME: QV its value ("" if none), WARN its warnings
q() {
  at "$1"
  http GET /api/v1/query --get --data-urlencode "query=$2" --data-urlencode "time=$NOW"
  WARN=$(python3 -c 'import json,sys; print(";".join(json.load(sys.stdin).get("warnings", [])))' <"$T_DIR/body" 2>/dev/null || echo "bad answer")
  QV=$(python3 -c '
import json, sys
d = json.load(sys.stdin)
r = d["data"]["result"] if d.get("status") == "success" else []
print(r[0]["value"][1] if r else "")' <"$T_DIR/body" 2>/dev/null || true)
}
qv() { q "$@"; echo "$QV"; } # the value only (in $(...))
# answers: count, sum, a range query, series and label values of phase 1 through q1,
# as one line in ANS ("!" marks an answer with a warning); WARNS: all their warnings
cat >"$T_DIR/answers.py" <<'PY'
import hashlib, json, sys
d = [json.load(open(f)) for f in sys.argv[1:]]
def h(x): return hashlib.md5(x.encode()).hexdigest()[:12]
def w(a): return "!" if a.get("warnings") else ""
def inst(a):
    r = a["data"]["result"] if a.get("status") == "success" else []
    return (r[0]["value"][1] if r else "") + w(a)
series = sorted(json.dumps(x, sort_keys=True) for x in d[3].get("data", []))
print("count=%s sum=%s range=%s%s series=%d:%s%s values=%d%s" % (
    inst(d[0]), inst(d[1]), h(json.dumps(d[2].get("data", {}).get("result"), sort_keys=True)), w(d[2]),
    len(series), h("".join(series)), w(d[3]), len(d[4].get("data", [])), w(d[4])))
print(";".join(x for a in d for x in a.get("warnings", [])))
PY
answers() {
  at q1
  local a=$T_DIR/ans
  http GET /api/v1/query --get --data-urlencode 'query=count(rq_v{phase="1"})' --data-urlencode "time=$NOW"
  cp "$T_DIR/body" "$a.0"
  http GET /api/v1/query --get --data-urlencode 'query=sum(rq_v{phase="1"})' --data-urlencode "time=$NOW"
  cp "$T_DIR/body" "$a.1"
  http GET /api/v1/query_range --get --data-urlencode 'query=sum by (host) (rq_v{phase="1"})' \
    --data-urlencode "start=$((NOW - 60))" --data-urlencode "end=$NOW" --data-urlencode 'step=15'
  cp "$T_DIR/body" "$a.2"
  http GET /api/v1/series --get --data-urlencode 'match[]=rq_v{phase="1"}'
  cp "$T_DIR/body" "$a.3"
  http GET /api/v1/label/batch/values --get --data-urlencode 'match[]=rq_v{phase="1"}'
  cp "$T_DIR/body" "$a.4"
  local out
  out=$(python3 "$T_DIR/answers.py" "$a.0" "$a.1" "$a.2" "$a.3" "$a.4" 2>/dev/null || printf 'bad answer\n')
  ANS=$(head -n1 <<<"$out")
  WARNS=$(sed -n 2p <<<"$out")
}
complete1() {
  for _ in $(seq 1 100); do
    [ "$(qv q1 'count(rq_v{phase="1"})')" = 600 ] && caught_up a1 && caught_up a2 &&
      caught_up b1 && caught_up b2 && return 0
    sleep 0.2
  done
  return 1
}
check "phase 1 is applied on every replica (600 series, every owner caught up)" complete1
settled() { # q1's plan covers every partition with a caught-up owner: no warning
  for _ in $(seq 1 30); do answers; [ -z "$WARNS" ] && return 0; sleep 0.3; done
  echo "  warnings: $WARNS"
  return 1
}
check "q1's answers settle without a warning" settled
R0=$ANS
echo "# before the kill: $R0"
check "answers before the kill: 600 series, sum 9300, 30 batch values, no warning" \
  test "${R0%% *}" = "count=600" -a -z "$WARNS" -a "$(qv q1 'sum(rq_v{phase="1"})')" = 9300
check "... series and label values complete" grep -q 'series=600:.* values=30$' <<<"$R0"

# series_sent: the sum of the up stores' series_sent counters
series_sent() {
  local t=0 n v
  for n in "$@"; do v=$(field $n 'd["series_sent"]'); t=$((t + ${v:-0})); done
  echo $t
}
at q1
http GET /internal/v1/fanout
check "the query node plans all 4 partitions" \
  python3 -c 'import json,sys; p=json.load(sys.stdin)["data"]["plan"]; sys.exit(0 if len(p)==4 and all(p) else 1)' <"$T_DIR/body"
s0=$(series_sent a1 a2 b1 b2)
q q1 'count(rq_v{phase="1"})'
s1=$(series_sent a1 a2 b1 b2)
check "one replica per partition: the stores sent 600 series for 600 ($((s1 - s0)))" \
  test $((s1 - s0)) = 600

# --- phase 2: writes under load (bounded: 150 batches or 25 s), kill -9 a1 meanwhile
: >"$T_DIR/acked2"
(
  end=$(($(date +%s) + 25))
  for b in $(seq 1 150); do
    [ "$(date +%s)" -lt "$end" ] || break
    if [ $((b % 2)) = 0 ]; then n=i1; else n=i2; fi
    [ "$(write_batch $n 2 $b)" = 204 ] && echo "$b" >>"$T_DIR/acked2"
    sleep 0.05
  done
) &
WPID=$!
sleep 2.1
# a query just before the kill refreshes q1's store statuses (status_interval 2s): the
# queries right after it still plan a1 for its partitions and must fail over mid-query
q q1 'count(rq_v{phase="1"})'
kill -9 "${NODE_PID[a1]}"
wait "${NODE_PID[a1]}" 2>/dev/null || true
same=0 differ=0 warned=0
t_end=$(($(date +%s) + 9)) # covers the session timeout and a2's takeover of a1's partitions
for i in $(seq 1 40); do # at least 5 rounds, then until t_end
  t0=$(date +%s%N)
  answers
  R=$ANS
  if [ "$R" = "$R0" ]; then same=$((same + 1)); else differ=$((differ + 1)); echo "# differs: $R"; fi
  [ -z "$WARNS" ] || { warned=$((warned + 1)); echo "# warning: $WARNS"; }
  echo "# round $i: $((($(date +%s%N) - t0) / 1000000)) ms"
  [ "$i" -ge 5 ] && [ "$(date +%s)" -ge "$t_end" ] && break
  sleep 0.2
done
check "after kill -9 of a1 under load: $same answers identical to before, $differ different" \
  test "$same" -ge 5 -a "$differ" = 0
check "... and none with a warning ($warned)" test "$warned" = 0
at q1
http GET /internal/v1/fanout
fo=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["failovers"])' <"$T_DIR/body" 2>/dev/null || echo 0)
check "q1 failed over from a1 to the other replica mid-query ($fo failed requests)" test "${fo:-0}" -gt 0
a2_all() { for _ in $(seq 1 100); do [ "$(owned a2)" = 4 ] && return 0; sleep 0.1; done; return 1; }
check "meanwhile replica group a handed a1's partitions to a2 (owns $(owned a2))" a2_all
s0=$(series_sent a2 b1 b2)
q q1 'count(rq_v{phase="1"})'
s1=$(series_sent a2 b1 b2)
check "with a1 down each partition is still read once ($((s1 - s0)) series sent for 600)" \
  test $((s1 - s0)) = 600
wait "$WPID" || true
acked2=$(wc -l <"$T_DIR/acked2")
check "phase 2: writes kept being acknowledged under the kill ($acked2 batches)" test "$acked2" -gt 20
all2() {
  for _ in $(seq 1 100); do
    [ "$(qv q1 'count(rq_v{phase="2"})')" = $((acked2 * 20)) ] && return 0
    sleep 0.2
  done
  echo "  q1 counts $(qv q1 'count(rq_v{phase="2"})') of $((acked2 * 20))"
  return 1
}
check "eventually every acknowledged phase-2 series is answered ($((acked2 * 20)))" all2

# --- restart a1: it catches up and answers for its partitions like replica group b
restart_node a1
check "a1 is ready again" wait_ready a1
a1_back() {
  for _ in $(seq 1 150); do caught_up a1 && return 0; sleep 0.2; done
  return 1
}
check "a1 gets partitions again and catches up (status caught_up)" a1_back
PARTS=$(field a1 '",".join(str(p["partition"]) for p in d["partitions"] if p["owned"])')
# n_series NAME: series of rq_v in partitions $PARTS that store NAME answers directly
n_series() {
  curl -s -o "$T_DIR/sel" --max-time 10 "${AUTH[@]}" --data-urlencode 'match=rq_v' --data 'samples=0' \
    --data n_partitions=4 --data-urlencode "partitions=$PARTS" "${NODE_URL[$1]}/internal/v1/select" || true
  python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(); print(struct.unpack_from("<I", d, 8)[0] if d[:4]==b"STSR" else -1)' "$T_DIR/sel"
}
same_as_b() {
  local x y
  for _ in $(seq 1 50); do
    x=$(n_series a1)
    y=$(($(n_series b1) + $(n_series b2)))
    [ "$x" -gt 0 ] && [ "$x" = "$y" ] && return 0
    sleep 0.2
  done
  echo "  a1 answers $x series of partitions $PARTS, group b $y"
  return 1
}
check "a1's own answers for its partitions ($PARTS) equal group b's" same_as_b
answers
R=$ANS
check "answers after the restart equal those before the kill" test "$R" = "$R0"
check "... with no warning" test -z "$WARNS"

STRATA_PID=${NODE_PID[q1]}
check "q1 exits 0 on SIGTERM" stop_strata TERM
unset 'NODE_PID[q1]'
elapsed=$(($(date +%s) - T_START))
check "the test stays under 90 s (${elapsed} s)" test "$elapsed" -lt 90
finish
