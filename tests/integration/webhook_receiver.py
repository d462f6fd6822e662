#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""webhook_receiver.py: an Alertmanager-webhook receiver for integration tests.

Listens on 127.0.0.1:PORT and appends one JSON line per POST to --log:
  {"t": <unix seconds>, "status": <HTTP status answered>, "path": ..., "auth": ...,
   "agent": <User-Agent>, "body": <payload>}
The first --fail-first requests are answered with --fail-status (default 500), so a test
can check that the sender retries; everything after that gets 200. Being "down" is done
by the test itself: it simply does not run this script for a while.

  webhook_receiver.py --port 18099 --log /tmp/hooks.jsonl [--fail-first 3]
"""
import argparse
import http.server
import json
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--fail-status", type=int, default=500)
    args = ap.parse_args()
    lock = threading.Lock()
    state = {"seen": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n)
            with lock:
                state["seen"] += 1
                status = args.fail_status if state["seen"] <= args.fail_first else 200
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                rec = {"t": time.time(), "status": status, "path": self.path,
                       "auth": self.headers.get("Authorization"),
                       "agent": self.headers.get("User-Agent"), "body": body}
                with open(args.log, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    http.server.ThreadingHTTPServer.allow_reuse_address = True
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("listening", args.port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
