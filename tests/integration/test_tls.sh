#!/usr/bin/env bash
# test_tls.sh: HTTPS (tls: section) with a self-signed certificate made by openssl here.
# curl trusts it through --cacert: queries and writes work over TLS, plain HTTP on the
# same port gets no answer, min_version TLS13 refuses a TLS 1.2-only client, a key that
# does not match the certificate and a missing file fail at start naming the problem.
# TLS and auth together: credentials travel inside TLS.
source "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || { not_ok "openssl is installed (scripts/deps.sh test)"; finish; exit 1; }
mkcert() { # mkcert NAME: NAME.crt + NAME.key for 127.0.0.1
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T_DIR/$1.key" -out "$T_DIR/$1.crt" \
    -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
}
mkcert srv
mkcert other

# start_tls CONFIG: like start_strata, reading the port from the https banner.
start_tls() {
  local log="$T_DIR/strata.$(date +%s%N).log" i
  : >"$log"
  "$STRATA_BIN" serve --listen 127.0.0.1:0 --data-dir "$T_DIR/data.$(date +%s%N)" --config "$1" >"$log" 2>&1 &
  STRATA_PID=$!
  STRATA_PORT=""
  for i in $(seq 1 100); do
    STRATA_PORT=$(sed -n 's#.*listening on https://127.0.0.1:\([0-9]*\).*#\1#p' "$log" | head -n1)
    [ -n "$STRATA_PORT" ] && break
    kill -0 "$STRATA_PID" 2>/dev/null || { cat "$log"; return 1; }
    sleep 0.1
  done
  [ -n "$STRATA_PORT" ] || { cat "$log"; return 1; }
  STRATA_URL="https://127.0.0.1:$STRATA_PORT"
}

# Relative paths resolve against the config file's directory.
cat >"$T_DIR/tls.yml" <<YML
tls:
  cert_file: srv.crt
  key_file: srv.key
YML
start_tls "$T_DIR/tls.yml" || { not_ok "strata starts with TLS"; finish; exit 1; }
NOW=$(date +%s)
http GET /-/healthy --cacert "$T_DIR/srv.crt"
check "https request with the CA trusted" test "$HTTP_CODE" = 200
http POST "/write?precision=s" --cacert "$T_DIR/srv.crt" --data-binary "tls_m v=7 $NOW"
check "write over https" test "$HTTP_CODE" = 204
for i in $(seq 1 50); do
  http GET "/api/v1/query?query=tls_m_v&time=$NOW" --cacert "$T_DIR/srv.crt"
  grep -q '"7"' <<<"$BODY" && break
  sleep 0.1
done
check "query over https sees the write" grep -q '"7"' <<<"$BODY"
http GET /-/healthy --cacert "$T_DIR/other.crt"
check "a client trusting another CA refuses the server" test "$HTTP_CODE" = 000
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$STRATA_PORT/-/healthy" || true)
check "plain http on the TLS port gets no HTTP answer" test "$code" = 000
http GET /-/healthy --cacert "$T_DIR/srv.crt" --tls-max 1.2
check "TLS 1.2 accepted by default (min_version TLS12)" test "$HTTP_CODE" = 200
stop_strata

H=$(echo s3cret | "$STRATA_BIN" hash-password --cost 4)
cat >"$T_DIR/tls13.yml" <<YML
tls:
  cert_file: $T_DIR/srv.crt
  key_file: $T_DIR/srv.key
  min_version: TLS13
auth:
  users:
    - {name: ops, password_hash: '$H', scopes: [read]}
YML
start_tls "$T_DIR/tls13.yml" || { not_ok "strata starts with TLS 1.3 only"; finish; exit 1; }
http GET /-/healthy --cacert "$T_DIR/srv.crt" --tls-max 1.2
check "min_version TLS13 refuses a TLS 1.2 client" test "$HTTP_CODE" = 000
http GET /-/healthy --cacert "$T_DIR/srv.crt" --tlsv1.3
check "TLS 1.3 client accepted" test "$HTTP_CODE" = 200
http GET "/api/v1/query?query=up" --cacert "$T_DIR/srv.crt"
check "auth over TLS: 401 without credentials" test "$HTTP_CODE" = 401
http GET "/api/v1/query?query=up" --cacert "$T_DIR/srv.crt" -u ops:s3cret
check "auth over TLS: 200 with credentials" test "$HTTP_CODE" = 200
stop_strata

# Start-up errors.
printf 'tls:\n  cert_file: %s\n  key_file: %s\n' "$T_DIR/srv.crt" "$T_DIR/other.key" >"$T_DIR/mismatch.yml"
out=$("$STRATA_BIN" serve --listen 127.0.0.1:0 --data-dir "$T_DIR/d2" --config "$T_DIR/mismatch.yml" 2>&1 || true)
check "a key that does not match the certificate fails at start" grep -q 'with TLS (does the key match' <<<"$out"
printf 'tls:\n  cert_file: nope.crt\n  key_file: %s\n' "$T_DIR/srv.key" >"$T_DIR/missing.yml"
out=$("$STRATA_BIN" serve --listen 127.0.0.1:0 --data-dir "$T_DIR/d3" --config "$T_DIR/missing.yml" 2>&1 || true)
check "a missing certificate names file:line:col and the path" grep -q 'missing.yml:2:.*tls.cert_file: cannot open .*nope.crt' <<<"$out"
printf 'tls:\n  cert_file: a\n' >"$T_DIR/half.yml"
out=$("$STRATA_BIN" serve --listen 127.0.0.1:0 --data-dir "$T_DIR/d4" --config "$T_DIR/half.yml" 2>&1 || true)
check "cert without key refused" grep -q 'tls: needs both cert_file and key_file' <<<"$out"
printf 'tls:\n  cert_file: a\n  key_file: b\n  min_version: SSL3\n' >"$T_DIR/ver.yml"
out=$("$STRATA_BIN" serve --listen 127.0.0.1:0 --data-dir "$T_DIR/d5" --config "$T_DIR/ver.yml" 2>&1 || true)
check "unknown min_version refused" grep -q "tls.min_version: 'SSL3' is not one of TLS12, TLS13" <<<"$out"
finish
