#!/usr/bin/env bash
# test_email.sh: email notifications end to end: the real binary delivers to Debian's
# python3-aiosmtpd (smtp_sink.py stores each message) on loopback.
#   - headers: Subject (Alertmanager's default "[FIRING:2] <group> (<common>)"), From, To,
#     Date, Message-Id, MIME-Version, custom headers; envelope sender and recipients
#   - body: multipart/alternative with a text/plain and a text/html part (quoted-printable,
#     UTF-8) listing the alerts, labels, annotations and source links
#   - a transient SMTP refusal (451) is retried and the message arrives once
#   - send_resolved: a "[RESOLVED]" message when the group resolves
#   - require_tls: the session upgrades with STARTTLS (self-signed cert, skip verify)
#   - AUTH: a server that requires authentication gets the configured credentials
# Every wait is bounded. Skips when aiosmtpd is not installed (scripts/deps.sh test).
# Temp dirs under the build tree: immune to broad /tmp clean-ups by concurrent jobs.
if [ -n "${STRATA_BUILD_DIR:-}" ]; then export TMPDIR="$STRATA_BUILD_DIR/it-tmp"; mkdir -p "$TMPDIR"; fi
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

PY=""
for p in /usr/bin/python3 python3; do
  if "$p" -c 'import aiosmtpd' 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
  echo "ok - # SKIP python3-aiosmtpd is not installed (scripts/deps.sh test)"
  finish
  exit 0
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SP=$(free_port)
TP=$(free_port)
AP=$(free_port)
PIDS=()
start_sink() { # PORT DIR FAIL_FIRST [aiosmtpd flags...]
  local port=$1 dir=$2 fail=$3; shift 3
  PYTHONPATH="$HERE" "$PY" -m aiosmtpd -n -l "127.0.0.1:$port" "$@" -c smtp_sink.Sink "$dir" "$fail" \
    >"$dir.log" 2>&1 &
  PIDS+=($!)
  local i
  for i in $(seq 1 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "smtp sink did not start"; cat "$dir.log"; return 1
}
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; cleanup' EXIT

wait_for() {
  local t=$1 i; shift
  for i in $(seq 1 $((t * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}
n_mails() { ls "$1"/*.eml 2>/dev/null | wc -l; }
mails_at_least() { [ "$(n_mails "$1")" -ge "$2" ]; }

MAIL="$T_DIR/mail"
TLSMAIL="$T_DIR/tlsmail"
mkdir -p "$MAIL" "$TLSMAIL"
start_sink "$SP" "$MAIL" 1
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -keyout "$T_DIR/key.pem" -out "$T_DIR/cert.pem" >/dev/null 2>&1
start_sink "$TP" "$TLSMAIL" 0 --tlscert "$T_DIR/cert.pem" --tlskey "$T_DIR/key.pem"
AUTHMAIL="$T_DIR/authmail"
mkdir -p "$AUTHMAIL"
"$PY" "$HERE/smtp_sink.py" --port "$AP" --dir "$AUTHMAIL" --auth "robot:s3cret" \
  >"$AUTHMAIL.log" 2>&1 &
PIDS+=($!)
for i in $(seq 1 50); do grep -q listening "$AUTHMAIL.log" 2>/dev/null && break; sleep 0.1; done

cat >"$T_DIR/strata.yml" <<YML
alerting:
  external_url: http://strata.test:9470
  outbox: {retry_initial: 200ms, retry_max: 1s, timeout: 5s}
  config:
    global:
      smtp_smarthost: 127.0.0.1:$SP
      smtp_from: 'Strata Alerts <alerts@strata.test>'
      smtp_require_tls: false
    route:
      receiver: mail
      group_by: [alertname]
      group_wait: 1s
      group_interval: 2s
      repeat_interval: 1h
      routes:
        - matchers: [tls="yes"]
          receiver: tls
        - matchers: [auth="yes"]
          receiver: auth
    receivers:
      - name: mail
        email_configs:
          - to: 'Ops Team <ops@example.org>, oncall@example.org'
            send_resolved: true
            headers: {X-Strata-Test: 'yes', Reply-To: noreply@strata.test}
      - name: tls
        email_configs:
          - to: secure@example.org
            smarthost: 127.0.0.1:$TP
            require_tls: true
            tls_config: {insecure_skip_verify: true}
      - name: auth
        email_configs:
          - to: authed@example.org
            smarthost: 127.0.0.1:$AP
            auth_username: robot
            auth_password: s3cret
YML
start_strata --config "$T_DIR/strata.yml" --data-dir "$T_DIR/data"

http POST /api/v2/alerts -H 'Content-Type: application/json' --data-binary '[
 {"labels":{"alertname":"HighCPU","instance":"a","job":"node","severity":"page"},
  "annotations":{"summary":"CPU über 90% on a <host>"},"generatorURL":"http://prom/graph?g0.expr=cpu"},
 {"labels":{"alertname":"HighCPU","instance":"b","job":"node","severity":"page"},
  "annotations":{"summary":"CPU high on b"}}]'
check "POST /api/v2/alerts answers 200" test "$HTTP_CODE" = 200
wait_for 20 mails_at_least "$MAIL" 1 || true
sleep 3
check "one message after a transient 451 was retried" test "$(n_mails "$MAIL")" = 1
check "the 451 was seen and retried" grep -q "retrying.*SMTP reply 451" "$T_DIR"/strata.*.log

check "envelope and headers" python3 - "$MAIL/001" <<'PY'
import email, email.policy, json, sys
base = sys.argv[1]
env = json.load(open(base + ".json"))
assert env["mail_from"] == "alerts@strata.test", env
assert env["rcpt_tos"] == ["ops@example.org", "oncall@example.org"], env
raw = open(base + ".eml", "rb").read()
assert b"\r\n" in raw
m = email.message_from_bytes(raw, policy=email.policy.default)
assert m["Subject"] == "[FIRING:2] HighCPU (node page)", m["Subject"]
assert m["From"] == "Strata Alerts <alerts@strata.test>", m["From"]
assert m["To"] == "Ops Team <ops@example.org>, oncall@example.org", m["To"]
assert m["Date"] and m["Date"].datetime is not None, m["Date"]
assert m["Message-Id"].startswith("<") and m["Message-Id"].endswith(">"), m["Message-Id"]
assert m["MIME-Version"] == "1.0"
assert m["X-Strata-Test"] == "yes" and m["Reply-To"] == "noreply@strata.test"
assert m.get_content_type() == "multipart/alternative", m.get_content_type()
PY
check "text and HTML bodies" python3 - "$MAIL/001.eml" <<'PY'
import email, email.policy, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
parts = {p.get_content_type(): p for p in m.iter_parts()}
assert set(parts) == {"text/plain", "text/html"}, parts.keys()
for p in parts.values():
    assert p["Content-Transfer-Encoding"] == "quoted-printable"
    assert p.get_content_charset() == "utf-8"
text = parts["text/plain"].get_content()
html = parts["text/html"].get_content()
assert "[2] Firing" in text and "instance = a" in text and "instance = b" in text, text
assert "summary = CPU über 90% on a <host>" in text, text
assert "Source: http://prom/graph?g0.expr=cpu" in text, text
assert "View in Strata: http://strata.test:9470" in text, text
assert "<strong>Labels</strong>" in html and "CPU über 90% on a &lt;host&gt;" in html, html
assert 'href="http://prom/graph?g0.expr=cpu"' in html, html
assert "2 alerts for alertname=HighCPU" in html and "2 alerts for alertname=HighCPU" in text
PY

# resolve both: a [RESOLVED] message
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
http POST /api/v2/alerts -H 'Content-Type: application/json' --data-binary "[
 {\"labels\":{\"alertname\":\"HighCPU\",\"instance\":\"a\",\"job\":\"node\",\"severity\":\"page\"},\"endsAt\":\"$now\"},
 {\"labels\":{\"alertname\":\"HighCPU\",\"instance\":\"b\",\"job\":\"node\",\"severity\":\"page\"},\"endsAt\":\"$now\"}]"
wait_for 15 mails_at_least "$MAIL" 2 || true
sleep 1
check "a resolved message follows" test "$(n_mails "$MAIL")" = 2
check "its subject is [RESOLVED]" python3 - "$MAIL/002.eml" <<'PY'
import email, email.policy, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
assert m["Subject"] == "[RESOLVED] HighCPU (node page)", m["Subject"]
text = m.get_body(("plain",)).get_content()
assert "[2] Resolved" in text and "[2] Firing" not in text, text
PY

# STARTTLS required
http POST /api/v2/alerts -H 'Content-Type: application/json' --data-binary \
  '[{"labels":{"alertname":"Secure","tls":"yes"},"annotations":{"summary":"über TLS"}}]'
wait_for 15 mails_at_least "$TLSMAIL" 1 || true
check "require_tls delivers over STARTTLS" python3 - "$TLSMAIL/001" <<'PY'
import email, email.policy, json, sys
env = json.load(open(sys.argv[1] + ".json"))
assert env["tls"] is True and env["rcpt_tos"] == ["secure@example.org"], env
m = email.message_from_bytes(open(sys.argv[1] + ".eml", "rb").read(), policy=email.policy.default)
assert m["Subject"] == "[FIRING:1] Secure (yes)", m["Subject"]
PY

# AUTH required by the server
http POST /api/v2/alerts -H 'Content-Type: application/json' --data-binary \
  '[{"labels":{"alertname":"Authed","auth":"yes"}}]'
wait_for 15 mails_at_least "$AUTHMAIL" 1 || true
check "SMTP AUTH with the configured credentials" python3 - "$AUTHMAIL/001.json" <<'PY'
import json, sys
env = json.load(open(sys.argv[1]))
assert env["auth_user"] == "robot" and env["rcpt_tos"] == ["authed@example.org"], env
PY

check "SIGTERM stops cleanly" stop_strata TERM
finish
