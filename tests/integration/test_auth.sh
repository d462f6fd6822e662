#!/usr/bin/env bash
# test_auth.sh: access control (docs/SECURITY.md) against the real binary.
#
# `strata hash-password` makes the hashes; a config with a read+write user, a write-only
# token, a read-only token and an admin user. Checks: 401 + WWW-Authenticate without or
# with wrong credentials (same message for an unknown user and a bad password), 403 for a
# missing scope, each credential form (Basic, Bearer, Influx v2 "Token", Influx v1 u/p,
# "Token user:password"), open health endpoints, admin routes (/-/reload,
# /api/v1/admin/*, silence changes), plaintext secrets refused at start with file:line:col.
source "$(dirname "$0")/lib.sh"
start() { start_strata "$@" || { not_ok "strata starts"; finish; exit 1; }; }

hp() { echo "$1" | "$STRATA_BIN" hash-password --cost 4; }
H_ALICE=$(hp alice-pw); H_ADMIN=$(hp admin-pw); H_TW=$(hp tok-write); H_TR=$(hp tok-read)
check "hash-password prints a bcrypt hash" bash -c "[[ '$H_ALICE' == \\\$2b\\\$04\\\$* ]]"
check "hash-password refuses an empty password" bash -c "! echo '' | '$STRATA_BIN' hash-password"

cat >"$T_DIR/auth.yml" <<YML
auth:
  users:
    - {name: alice, password_hash: '$H_ALICE', scopes: [read, write]}
    - {name: root, password_hash: '$H_ADMIN', scopes: [admin]}
  tokens:
    - {name: telegraf, token_hash: '$H_TW', scopes: [write]}
    - {name: grafana, token_hash: '$H_TR', scopes: [read]}
YML
start --config "$T_DIR/auth.yml" --data-dir "$T_DIR/data"
NOW=$(date +%s)
Q="/api/v1/query?query=up"

http GET "$Q"
check "no credentials: 401" test "$HTTP_CODE" = 401
check "401 says authentication required" grep -q 'authentication required' <<<"$BODY"
curl -s -D "$T_DIR/h" -o /dev/null "$STRATA_URL$Q"
check "401 carries WWW-Authenticate Basic" grep -qi '^WWW-Authenticate: Basic' "$T_DIR/h"
check "401 carries WWW-Authenticate Bearer" grep -qi '^WWW-Authenticate: Bearer' "$T_DIR/h"
http GET "$Q" -u alice:wrong
B1=$BODY; C1=$HTTP_CODE
http GET "$Q" -u nobody:wrong
check "bad password: 401" test "$C1" = 401
check "unknown user: 401 with the same message" test "$HTTP_CODE:$BODY" = "401:$B1"
http GET "$Q" -H 'Authorization: Bearer nope'
check "unknown token: 401" test "$HTTP_CODE" = 401
http GET "$Q" -H 'Authorization: Digest x'
check "unsupported scheme: 401" test "$HTTP_CODE" = 401

http GET "$Q" -u alice:alice-pw
check "basic auth user reads" test "$HTTP_CODE" = 200
http GET "$Q" -H 'Authorization: Bearer tok-read'
check "bearer token reads" test "$HTTP_CODE" = 200
http POST "/write?precision=s" -H 'Authorization: Bearer tok-read' --data-binary "a v=1 $NOW"
check "read token cannot write: 403" test "$HTTP_CODE" = 403
check "403 names the scope" grep -q "lacks the write scope" <<<"$BODY"
http POST "/api/v2/write?bucket=b&precision=s" -H 'Authorization: Token tok-write' \
  --data-binary "a v=2 $NOW"
check "Influx v2 Token header writes" test "$HTTP_CODE" = 204
http POST "/write?precision=s&u=alice&p=alice-pw" --data-binary "a v=3 $NOW"
check "Influx v1 u/p parameters write" test "$HTTP_CODE" = 204
http POST "/write?precision=s&u=alice&p=bad" --data-binary "a v=3 $NOW"
check "Influx v1 bad p: 401" test "$HTTP_CODE" = 401
http POST "/api/v2/write?bucket=b&precision=s" -H 'Authorization: Token alice:alice-pw' \
  --data-binary "a v=4 $NOW"
check "Token user:password (Influx 1.8) writes" test "$HTTP_CODE" = 204
http POST "/api/v1/write" -H 'Authorization: Bearer tok-read' --data-binary 'x'
check "remote write needs write: 403" test "$HTTP_CODE" = 403
http POST "/api/v1/import/prometheus" -H 'Authorization: Bearer tok-write' \
  --data-binary "imp 1 ${NOW}000"
check "import with a write token" test "$HTTP_CODE" = 204
http GET "$Q" -H 'Authorization: Bearer tok-write'
check "write token cannot read: 403" test "$HTTP_CODE" = 403
http GET "/metrics" -H 'Authorization: Bearer tok-write'
check "/metrics needs read" test "$HTTP_CODE" = 403

for p in /-/healthy /-/ready /ping; do
  http GET "$p"
  check "$p is open" bash -c "[ '$HTTP_CODE' = 200 ] || [ '$HTTP_CODE' = 204 ]"
done

http POST "/-/reload" -u alice:alice-pw
check "/-/reload needs admin: 403" test "$HTTP_CODE" = 403
http POST "/-/reload" -u root:admin-pw
check "/-/reload with admin" test "$HTTP_CODE" = 200
http POST "/api/v1/admin/tsdb/snapshot" -u alice:alice-pw
check "/api/v1/admin/* needs admin: 403" test "$HTTP_CODE" = 403
http POST "/api/v2/silences" -u alice:alice-pw -H 'Content-Type: application/json' --data '{}'
check "creating a silence needs admin: 403" test "$HTTP_CODE" = 403
http GET "/api/v2/silences" -H 'Authorization: Bearer tok-read'
check "listing silences needs only read" bash -c "[ '$HTTP_CODE' != 401 ] && [ '$HTTP_CODE' != 403 ]"
http GET "$Q" -u root:admin-pw
check "admin implies read" test "$HTTP_CODE" = 200

# Cached checks: 200 requests with the same credentials take well under the ~200 x bcrypt.
t0=$(date +%s%N)
for i in $(seq 1 50); do
  curl -s -u alice:alice-pw -o /dev/null -o /dev/null -o /dev/null -o /dev/null \
    "$STRATA_URL$Q" "$STRATA_URL$Q" "$STRATA_URL$Q" "$STRATA_URL$Q"
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "# 200 authenticated queries: $ms ms"
check "authenticated queries are not bcrypt-bound (200 in < 20 s)" test "$ms" -lt 20000
stop_strata

# Config errors: plaintext secret, bad hash, unknown scope.
printf 'auth:\n  users:\n    - {name: a, password: secret, scopes: [read]}\n' >"$T_DIR/bad1.yml"
out=$("$STRATA_BIN" serve --listen 127.0.0.1:0 --data-dir "$T_DIR/d1" --config "$T_DIR/bad1.yml" 2>&1 || true)
check "plaintext password refused with position" grep -q 'bad1.yml:3:.*plaintext secrets are not accepted' <<<"$out"
printf 'auth:\n  tokens:\n    - {name: a, token_hash: hunter2, scopes: [read]}\n' >"$T_DIR/bad2.yml"
out=$("$STRATA_BIN" serve --listen 127.0.0.1:0 --data-dir "$T_DIR/d2" --config "$T_DIR/bad2.yml" 2>&1 || true)
check "non-crypt hash refused" grep -q 'bad2.yml:3:.*not a supported crypt(3) hash' <<<"$out"
printf "auth:\n  tokens:\n    - {name: a, token_hash: '%s', scopes: [root]}\n" "$H_TR" >"$T_DIR/bad3.yml"
out=$("$STRATA_BIN" serve --listen 127.0.0.1:0 --data-dir "$T_DIR/d3" --config "$T_DIR/bad3.yml" 2>&1 || true)
check "unknown scope refused" grep -q "unknown scope 'root'" <<<"$out"
finish
