#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""smtp_sink.py: an aiosmtpd handler that stores every message in a directory.

Run with Debian's python3-aiosmtpd:

  PYTHONPATH=tests/integration python3 -m aiosmtpd -n -l 127.0.0.1:PORT \
      -c smtp_sink.Sink OUTDIR [FAIL_FIRST]

Each accepted message becomes OUTDIR/<n>.eml (the raw bytes as received) plus
OUTDIR/<n>.json ({"mail_from": ..., "rcpt_tos": [...], "tls": bool}). The first
FAIL_FIRST messages are refused at DATA with a transient "451" so that the sender's
retries can be tested. The test reads the files with Python's email package.

The aiosmtpd command line has no way to require AUTH, so this file can also run a server
itself (aiosmtpd's Controller) that offers AUTH PLAIN/LOGIN without TLS, requires it,
and accepts only USER:PASS; the sidecar then also records "auth_user":

  python3 smtp_sink.py --port PORT --dir OUTDIR --auth USER:PASS
"""
import json
import os


class Sink:
    def __init__(self, outdir, fail_first=0):
        self.outdir = outdir
        self.fail_first = int(fail_first)
        self.seen = 0
        os.makedirs(outdir, exist_ok=True)

    @classmethod
    def from_cli(cls, parser, *args):
        if not 1 <= len(args) <= 2:
            parser.error("smtp_sink.Sink takes OUTDIR [FAIL_FIRST]")
        return cls(*args)

    async def handle_DATA(self, server, session, envelope):
        self.seen += 1
        if self.seen <= self.fail_first:
            return "451 4.3.0 Try again later (smtp_sink)"
        n = len([f for f in os.listdir(self.outdir) if f.endswith(".eml")]) + 1
        base = os.path.join(self.outdir, "%03d" % n)
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(content)
        auth = getattr(session, "auth_data", None)
        user = auth.login.decode() if hasattr(auth, "login") else None
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "tls": session.ssl is not None, "auth_user": user}, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 Message accepted for delivery"


def main():
    import argparse
    import signal
    import threading

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--auth", required=True, help="USER:PASS")
    args = ap.parse_args()
    user, password = args.auth.split(":", 1)

    def authenticator(server, session, envelope, mechanism, data):
        ok = (isinstance(data, LoginPassword) and data.login.decode() == user
              and data.password.decode() == password)
        return AuthResult(success=ok, handled=False, auth_data=data)

    c = Controller(Sink(args.dir), hostname="127.0.0.1", port=args.port,
                   authenticator=authenticator, auth_required=True, auth_require_tls=False)
    c.start()
    print("listening", args.port, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    done.wait()
    c.stop()


if __name__ == "__main__":
    main()
