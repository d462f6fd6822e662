#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""query_vs_prometheus.py: PromQL/HTTP API latency, Strata vs Prometheus 2.42, same run.

Data (fixed seeds), ending one hour before now so every range is fully in the past:
  - devops: ../shared/data/scripts/gen_devops.py (cpu_usage_* gauges, 10 labels per
    series); --format om for promtool, --format lp (same values) converted to exposition
    text with ms timestamps for Strata;
  - synthetic counters http_requests_total{hostname,region,method,code} and a classic
    histogram http_request_duration_seconds_{bucket,sum,count}{hostname,region} per host
    (the devops data has neither), same interval, written to both.
Prometheus: `promtool tsdb create-blocks-from openmetrics`, then `prometheus` serving the
blocks on 127.0.0.1 (no scraping); the run waits for its first compaction to settle.
Strata: `strata serve` on 127.0.0.1, loaded over POST /api/v1/import/prometheus in
time-major batches; the run waits until every sample is queryable.

Query classes (instant queries at the last sample time; range queries end there), each
run --reps times against both servers alternately over one keep-alive connection per
server; wall time per request (send to last body byte) -> median and p99 (nearest rank)
per class and the ratio of medians Strata/Prometheus (< 1: Strata faster). Each class's
first answers are compared (same series count; the instant selector also values), so a
fast wrong answer does not go unnoticed.

"repeated dashboard range query": one range query (histogram_quantile over 24h, 1 m
step) asked --reps times with the same parameters (warm: what a range-read cache can
answer) against the same query with a different step each time (cold: a new cache key
every time); prints cold median / warm median for both servers (goal for Strata: >= 20x).

Every wait and loop is bounded in count and time (--deadline for the whole run). Servers
listen on 127.0.0.1 only and are killed by PID on exit; starting them (and killing them)
is tests/integration/promql_compat.py's code, imported. Installs nothing.

  query_vs_prometheus.py --strata BIN [--hosts 50] [--duration 26h] [--interval 60s]
                         [--reps 20] [--shared-data DIR] [--keep]
"""
import argparse
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

# Server start-up and the kill-on-exit list are the PromQL compatibility test's.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import promql_compat as compat  # noqa: E402

T0 = time.time()
DEADLINE_S = 1200


def log(msg):
    print("[%6.1fs] %s" % (time.time() - T0, msg), flush=True)


def check_deadline(what):
    if time.time() - T0 > DEADLINE_S:
        raise RuntimeError("deadline of %ds exceeded during %s" % (DEADLINE_S, what))


def parse_duration_s(s):
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return int(s[:-1]) * units[s[-1]]


# ---------------------------------------------------------------------------- data

LE = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]


def fmt(v):
    return repr(float(v)) if v != int(v) or abs(v) >= 1e15 else str(int(v))


def synthetic(hosts_regions, t_start_s, n_steps, interval_s, seed=20231121):
    """Counters and a classic histogram per host: {series text: [values per step]}."""
    rnd = random.Random(seed)
    out = {}
    for host, region in hosts_regions:
        base = 'hostname="%s",region="%s"' % (host, region)
        for method in ("GET", "POST"):
            for code in ("200", "500"):
                rate = rnd.uniform(5, 50) * (0.02 if code == "500" else 1)
                v, vals = 0.0, []
                for _ in range(n_steps):
                    v += max(0.0, rnd.gauss(rate, rate / 4)) * interval_s
                    vals.append(float(int(v)))
                out['http_requests_total{%s,method="%s",code="%s"}' % (base, method, code)] = vals
        # histogram: per step, n requests with log-normal latencies around a host median
        med = rnd.uniform(0.02, 0.3)
        cum = [0.0] * len(LE)
        cnt = s = 0.0
        buckets = [[] for _ in LE]
        sums, counts = [], []
        for _ in range(n_steps):
            n = rnd.randint(20, 60)
            for _ in range(n):
                x = rnd.lognormvariate(0, 0.8) * med
                s += x
                for i, le in enumerate(LE):
                    if le == "+Inf" or x <= float(le):
                        cum[i] += 1
            cnt += n
            for i in range(len(LE)):
                buckets[i].append(cum[i])
            sums.append(round(s, 6))
            counts.append(cnt)
        for i, le in enumerate(LE):
            out['http_request_duration_seconds_bucket{%s,le="%s"}' % (base, le)] = buckets[i]
        out["http_request_duration_seconds_sum{%s}" % base] = sums
        out["http_request_duration_seconds_count{%s}" % base] = counts
    return out


def lp_to_exposition(line):
    """One devops line-protocol line -> exposition lines with ms timestamps."""
    head, fields, ts = line.rstrip("\n").split(" ")
    parts = head.split(",")
    meas = parts[0]
    labels = ",".join('%s="%s"' % tuple(p.split("=", 1)) for p in parts[1:])
    t_ms = int(ts) // 1_000_000
    out = []
    for f in fields.split(","):
        k, v = f.split("=", 1)
        out.append("%s_%s{%s} %s %d\n" % (meas, k, labels, v.rstrip("i"), t_ms))
    return out


# ---------------------------------------------------------------------------- servers


class Client:
    """One keep-alive HTTP/1.1 connection; reconnects once if the server closed it."""

    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname, u.port
        self.conn = None

    def request(self, method, path, body=None, headers=None, timeout=120):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                return r.status, data, dict(r.getheaders())
            except (http.client.HTTPException, ConnectionError, socket.timeout):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise RuntimeError("unreachable")


def prom_metric(client, name):
    code, body, _ = client.request("GET", "/metrics")
    total = 0.0
    for line in body.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_prometheus_settled(client, started_at, seconds=240):
    """Prometheus compacts the promtool blocks about a minute after start: wait for it,
    then until the loaded block count is stable for 10 s, so compaction does not run
    during the measurements."""
    deadline = time.time() + seconds
    last, since = None, time.time()
    while time.time() < deadline:
        check_deadline("prometheus compaction")
        blocks = prom_metric(client, "prometheus_tsdb_blocks_loaded")
        running = prom_metric(client, "prometheus_tsdb_compactions_triggered_total")
        if blocks != last:
            last, since = blocks, time.time()
        if time.time() - started_at > 75 and running > 0 and time.time() - since >= 10:
            return blocks
        time.sleep(1)
    return last


# ---------------------------------------------------------------------------- queries


def api_get(client, path, params):
    q = urllib.parse.urlencode(params, doseq=True)
    t = time.perf_counter()
    code, body, headers = client.request("GET", path + "?" + q)
    dt = time.perf_counter() - t
    return dt, code, body, headers


def summarize(code, body):
    if code != 200:
        return ("HTTP %d" % code, None)
    d = json.loads(body)["data"]
    if isinstance(d, dict):  # query / query_range
        res = d["result"]
        return (len(res) if isinstance(res, list) else 1, d)
    return (len(d), d)


def same_values(a, b):
    """Instant vectors a, b equal (labels and values to 1e-9 relative)."""
    def idx(r):
        return {json.dumps(s["metric"], sort_keys=True): float(s["value"][1]) for s in r}
    ia, ib = idx(a["result"]), idx(b["result"])
    if ia.keys() != ib.keys():
        return False
    return all(abs(ia[k] - ib[k]) <= 1e-9 * max(1.0, abs(ia[k])) for k in ia)


def pct(xs, p):
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))  # nearest rank
    return s[k]


def main():
    global DEADLINE_S
    ap = argparse.ArgumentParser()
    ap.add_argument("--strata", required=True)
    ap.add_argument("--shared-data", default=os.environ.get("STRATA_SHARED_DATA", ""))
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--duration", default="26h")
    ap.add_argument("--interval", default="60s")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--deadline", type=int, default=1200, help="whole run, seconds")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    DEADLINE_S = args.deadline
    args.reps = max(3, min(args.reps, 200))
    for tool in ("prometheus", "promtool"):
        if not shutil.which(tool):
            log("%s not installed: scripts/deps.sh bench" % tool)
            return 1
    gen = os.path.join(args.shared_data, "scripts", "gen_devops.py")
    if not os.path.exists(gen):
        log("gen_devops.py not found under --shared-data %r" % args.shared_data)
        return 1
    dur_s, step_s = parse_duration_s(args.duration), parse_duration_s(args.interval)
    if dur_s < 25 * 3600:
        log("--duration must be at least 25h (the 24h range query needs the data)")
        return 1
    now = int(time.time())
    t_end_s = now - now % 3600 - 3600
    t_start_s = t_end_s - dur_s
    n_steps = dur_s // step_s
    t_last_s = t_start_s + (n_steps - 1) * step_s
    start_iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_start_s))
    work = tempfile.mkdtemp(prefix="strata-bench-query.")
    ok = False
    try:
        common = [sys.executable, gen, "--hosts", str(args.hosts), "--duration", args.duration,
                  "--interval", args.interval, "--start", start_iso, "--seed", "7"]
        lp, om = os.path.join(work, "devops.lp"), os.path.join(work, "data.om")
        subprocess.run(common + ["--format", "lp", "-o", lp], check=True, timeout=600)
        subprocess.run(common + ["--format", "om", "-o", om], check=True, timeout=600)
        regions = {}
        with open(lp) as f:
            for line in f:
                tags = dict(p.split("=", 1) for p in line.split(" ", 1)[0].split(",")[1:])
                if tags["hostname"] in regions:
                    break
                regions[tags["hostname"]] = tags["region"]
        syn = synthetic(sorted(regions.items()), t_start_s, n_steps, step_s)
        # OpenMetrics for promtool: devops families, then the synthetic ones, then # EOF.
        with open(om, "rb+") as f:
            f.seek(-6, os.SEEK_END)
            tail = f.read()
            if tail != b"# EOF\n":
                raise RuntimeError("unexpected end of %s: %r" % (om, tail))
            f.seek(-6, os.SEEK_END)
            f.truncate()
        with open(om, "a") as f:
            names = sorted({k.split("{", 1)[0] for k in syn})
            for name in names:
                f.write("# TYPE %s unknown\n" % name)
                for text, vals in syn.items():
                    if text.split("{", 1)[0] != name:
                        continue
                    for i, v in enumerate(vals):
                        f.write("%s %s %d\n" % (text, fmt(v), t_start_s + i * step_s))
            f.write("# EOF\n")
        n_series = args.hosts * 10 + len(syn)
        n_samples = n_series * n_steps
        log("data: %d series, %d samples, %s .. %s (%d s interval)" % (
            n_series, n_samples, start_iso,
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_last_s)), step_s))

        t = time.time()
        prom = compat.start_prometheus(work, om, promtool_args=["-q"], promtool_timeout=900,
                                       ready_s=90)
        prom_started = time.time()
        log("prometheus: promtool + start %.1fs" % (time.time() - t))
        strata = compat.start_strata(work, args.strata, ["--log-level", "warn"], ready_s=90)
        sc, pc = Client(strata), Client(prom)
        # Strata: time-major batches of about 50,000 samples.
        t = time.time()
        batch, n_batch = [], 0
        syn_items = list(syn.items())

        def flush():
            nonlocal batch
            if not batch:
                return
            check_deadline("strata import")
            code, resp, _ = sc.request("POST", "/api/v1/import/prometheus",
                                       body="".join(batch).encode(),
                                       headers={"Content-Type": "text/plain; version=0.0.4"})
            if code not in (200, 204):
                raise RuntimeError("import failed: HTTP %d %r" % (code, resp[:300]))
            batch = []

        step_i, cur_ts = -1, None
        with open(lp) as f:
            for line in f:
                ts = line.rsplit(" ", 1)[1]
                if ts != cur_ts:  # a new time step: add the synthetic samples of it
                    cur_ts = ts
                    step_i += 1
                    t_ms = (t_start_s + step_i * step_s) * 1000
                    for text, vals in syn_items:
                        batch.append("%s %s %d\n" % (text, fmt(vals[step_i]), t_ms))
                    if len(batch) >= 50_000:
                        flush()
                batch.extend(lp_to_exposition(line))
        flush()
        log("strata: import %.1fs" % (time.time() - t))
        # Wait until Strata has applied everything (consumers apply asynchronously).
        names = sorted({"cpu_" + ln.split("=", 1)[0] for ln in
                        open(lp).readline().split(" ")[1].split(",")} |
                       {k.split("{", 1)[0] for k in syn})
        window = "[%ds]" % (dur_s + 3600)

        def n_stored(client):
            total = 0
            for name in names:
                _, code, body, _ = api_get(client, "/api/v1/query", {
                    "query": "sum(count_over_time(%s%s))" % (name, window),
                    "time": str(t_last_s)})
                if code != 200:
                    raise RuntimeError("count query failed: HTTP %d %r" % (code, body[:300]))
                res = json.loads(body)["data"]["result"]
                total += int(float(res[0]["value"][1])) if res else 0
            return total

        for _ in range(300):
            check_deadline("strata catch-up")
            got = n_stored(sc)
            if got == n_samples:
                break
            time.sleep(0.5)
        else:
            raise RuntimeError("strata holds %d samples, expected %d" % (got, n_samples))
        got_p = n_stored(pc)
        if got_p != n_samples:
            raise RuntimeError("prometheus holds %d samples, expected %d" % (got_p, n_samples))
        blocks = wait_prometheus_settled(pc, prom_started)
        log("both hold all %d samples; prometheus settled with %d blocks" % (n_samples, blocks))

        te = str(t_last_s)
        rate = "rate(http_requests_total[5m])"
        hq = ("histogram_quantile(0.9, sum by (le, region) "
              "(rate(http_request_duration_seconds_bucket[5m])))")
        dash = "sum by (region) (rate(http_requests_total[5m]))"
        q, qr = "/api/v1/query", "/api/v1/query_range"
        classes = [
            ("instant selector", q, {"query": 'cpu_usage_user{region="us-east-1"}', "time": te}),
            ("rate 5m", q, {"query": rate, "time": te}),
            ("sum by (region) of rate", q, {"query": "sum by (region) (%s)" % rate, "time": te}),
            ("histogram_quantile", q, {"query": hq, "time": te}),
            ("topk", q, {"query": "topk(10, cpu_usage_user)", "time": te}),
            ("range 1h @ 15s", qr, {"query": dash, "start": str(t_last_s - 3600), "end": te,
                                    "step": "15"}),
            ("range 24h @ 5m", qr, {"query": dash, "start": str(t_last_s - 86400), "end": te,
                                    "step": "300"}),
            ("label values", "/api/v1/label/hostname/values", {}),
            ("series", "/api/v1/series", {"match[]": 'cpu_usage_user{region="us-east-1"}',
                                          "start": str(t_last_s - 3600), "end": te}),
        ]
        rows = []
        for name, path, params in classes:
            ts_, tp_ = [], []
            first = {}
            for i in range(args.reps):
                check_deadline(name)
                for who, c, acc in (("strata", sc, ts_), ("prometheus", pc, tp_)):
                    dt, code, body, _ = api_get(c, path, params)
                    acc.append(dt)
                    if i == 0:
                        first[who] = summarize(code, body)
            (ns, ds), (np_, dp) = first["strata"], first["prometheus"]
            agree = ns == np_
            if agree and name == "instant selector":
                agree = same_values(ds, dp)
            rows.append((name, ts_, tp_, ns, np_, agree))
            log("%s: strata %.2f ms, prometheus %.2f ms (medians)" % (
                name, pct(ts_, 50) * 1e3, pct(tp_, 50) * 1e3))

        # Repeated dashboard range query: warm (same parameters) vs cold (new step each time).
        dash_params = {"query": hq, "start": str(t_last_s - 86400), "end": te}
        cold = {"strata": [], "prometheus": []}
        warm = {"strata": [], "prometheus": []}
        cache_hdr = {}
        for who, c in (("strata", sc), ("prometheus", pc)):
            api_get(c, qr, dict(dash_params, step="60"))  # the first (priming) request
        for i in range(args.reps):
            check_deadline("repeated dashboard query")
            for who, c in (("strata", sc), ("prometheus", pc)):
                dt, code, _, _ = api_get(c, qr, dict(dash_params, step=str(61 + i)))
                cold[who].append(dt)
                dt, code, _, hdr = api_get(c, qr, dict(dash_params, step="60"))
                warm[who].append(dt)
                cache_hdr[who] = {k: v for k, v in hdr.items() if k.lower().startswith("x-strata")}

        print()
        print("Query latency, ms over HTTP on 127.0.0.1 (%d reps each, alternating servers)" %
              args.reps)
        print("data: %d series, %d samples, %s interval, %d hosts" % (
            n_series, n_samples, args.interval, args.hosts))
        print("%-26s %9s %9s %9s %9s %8s  %s" % ("class", "strata", "p99", "prom", "p99",
                                                "S/P", "results"))
        for name, ts_, tp_, ns, np_, agree in rows:
            print("%-26s %9.2f %9.2f %9.2f %9.2f %8.2f  %s" % (
                name, pct(ts_, 50) * 1e3, pct(ts_, 99) * 1e3, pct(tp_, 50) * 1e3,
                pct(tp_, 99) * 1e3, pct(ts_, 50) / pct(tp_, 50),
                ("agree (%s)" % ns) if agree else "DIFFER: strata %s, prometheus %s" % (ns, np_)))
        print()
        print("repeated dashboard range query: %s, 24h @ 1m" % hq)
        for who in ("strata", "prometheus"):
            cm, wm = pct(cold[who], 50), pct(warm[who], 50)
            print("%-10s cold (new step each time) median %8.2f ms p99 %8.2f | "
                  "repeated median %8.2f ms p99 %8.2f | cold/repeated %6.1fx %s" % (
                      who, cm * 1e3, pct(cold[who], 99) * 1e3, wm * 1e3,
                      pct(warm[who], 99) * 1e3, cm / wm, cache_hdr.get(who) or ""))
        r = pct(cold["strata"], 50) / pct(warm["strata"], 50)
        print("strata repeated-query speed-up %.1fx (goal >= 20x: %s)" % (
            r, "met" if r >= 20 else "not met"))
        print("strata repeated vs prometheus repeated: %.3f" % (
            pct(warm["strata"], 50) / pct(warm["prometheus"], 50)))
        ok = all(row[5] for row in rows)
        if not ok:
            print("some classes returned different series counts; see above")
        return 0 if ok else 1
    finally:
        compat.end_run(work, args.keep or not ok, log)


if __name__ == "__main__":
    sys.exit(main())
