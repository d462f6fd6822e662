#!/usr/bin/env bash
# test_tiers_api.sh: the tier planner through the HTTP API: three days of minutely
# samples backfilled (line protocol, ending a day ago) are cut into blocks and rolled up
# into the 1m and 1h tiers by the server's worker; a day-long max_over_time(...[1h]) at a
# 1h step then reports X-Strata-Tier: 1h and, with stats=all, data.stats.tier "1h",
# also with an offset that keeps the windows on the grid; an unaligned start reads raw.
# (The values against raw are checked in tests/query/test_tiers.c.)
source "$(dirname "$0")/lib.sh"

# Without the range cache (tiers of cached answers: tests/query/test_cache.c).
cat >"$T_DIR/strata.yml" <<'YML'
query:
  cache_max_bytes: 0
YML
start_strata --config "$T_DIR/strata.yml" --data-dir "$T_DIR/data"

now=$(date +%s)
day0=$(( (now - 4 * 86400) - (now - 4 * 86400) % 86400 ))   # a day boundary 4-5 days ago
for i in $(seq 0 $((3 * 1440 - 1))); do
  echo "temp,room=a v=$(( (i * 37) % 101 )).25 $((day0 + i * 60))"
done >"$T_DIR/backfill.lp"
http POST "/write?precision=s" --data-binary @"$T_DIR/backfill.lp"
check "backfill answers 204 (got $HTTP_CODE ${BODY:0:200})" test "$HTTP_CODE" = 204

start=$((day0 + 86400)); end=$((day0 + 2 * 86400 - 3600))
q="max_over_time(temp_v[1h])"
tier=""
for _ in $(seq 1 60); do  # the worker cuts and downsamples within a few 1 s ticks
  hdr=$(curl -s -D - -o "$T_DIR/tier.json" -G "$STRATA_URL/api/v1/query_range" \
    --data-urlencode "query=$q" -d start=$start -d end=$end -d step=3600 -d stats=all)
  tier=$(tr -d '\r' <<<"$hdr" | sed -n 's/^X-Strata-Tier: //ip')
  [ "$tier" = 1h ] && break
  sleep 0.5
done
check "X-Strata-Tier is 1h once the tiers are built (got '$tier')" test "$tier" = 1h
check "data.stats.tier is 1h" python3 -c '
import json,sys; d=json.load(open(sys.argv[1]))["data"]
sys.exit(0 if d["stats"]["tier"] == "1h" and len(d["result"][0]["values"]) == 24 else 1)' "$T_DIR/tier.json"

# Shifted by 1 s with an offset of 1 s the windows are the same hours: still the 1h
# tier, same values; without the offset the windows are off the grid: raw.
http GET "/api/v1/query_range" -G --data-urlencode "query=max_over_time(temp_v[1h] offset 1s)" \
  -d start=$((start + 1)) -d end=$((end + 1)) -d step=3600 -d stats=1
echo "$BODY" >"$T_DIR/off.json"
check "offset query reads the 1h tier, same values" python3 -c '
import json,sys
a=json.load(open(sys.argv[1]))["data"]
b=json.load(open(sys.argv[2]))["data"]
va=[v for _,v in a["result"][0]["values"]]; vb=[v for _,v in b["result"][0]["values"]]
sys.exit(0 if b["stats"]["tier"] == "1h" and va == vb and len(va) == 24 else 1)' "$T_DIR/tier.json" "$T_DIR/off.json"
http GET "/api/v1/query_range" -G --data-urlencode "query=$q" \
  -d start=$((start + 1)) -d end=$((end + 1)) -d step=3600 -d stats=1
check "unaligned query reads raw" python3 -c '
import json,sys; d=json.loads(sys.argv[1])["data"]
sys.exit(0 if d["stats"]["tier"] == "raw" and len(d["result"][0]["values"]) == 24 else 1)' "$BODY"

http GET "/api/v1/query" -G --data-urlencode "query=$q" -d time=$end
check "no stats without the stats parameter" python3 -c '
import json,sys; sys.exit(0 if "stats" not in json.loads(sys.argv[1])["data"] else 1)' "$BODY"

stop_strata
finish
