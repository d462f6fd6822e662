#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""promql_compat.py: Strata's PromQL answers must equal Prometheus 2.42's on the same data.

Generates a few hours of metrics with a fixed seed (counters with resets, gauges with
NaN/Inf and ties, classic histograms, series that start, stop and pause, joins via info
metrics, plus a slice of the node_exporter capture from STRATA_SHARED_DATA), loads them
into Prometheus (promtool tsdb create-blocks-from openmetrics; `prometheus` serving the
blocks, no scraping) and into Strata (POST /api/v1/import/prometheus, exposition text with
millisecond timestamps), then runs a battery of expressions as instant queries at several
times and as range queries at several steps against both over HTTP on 127.0.0.1 and
compares the answers:
  - both succeed or both fail (error texts are not compared);
  - same result type, same set of label sets;
  - values equal within 1e-9 relative (1e-12 absolute near zero), NaN == NaN, same Inf;
  - order only where Prometheus guarantees it (top-level sort/sort_desc/topk/bottomk of
    an instant query): the sequence of values must match (ties may be permuted).
Prints every mismatch (up to a limit) and "N passed, M failed"; exits 1 on any mismatch,
0 when all match, and 0 with "SKIP" when prometheus/promtool are not installed (unless
STRATA_REQUIRE_PROMETHEUS=1). Installs nothing. Every wait and loop is bounded in count and
time; all servers listen on 127.0.0.1 only and are killed by PID on exit.

Usage: promql_compat.py --strata BIN [--shared-data DIR] [--keep] [--filter SUBSTR]
"""
import argparse
import atexit
import gzip
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

SEED = 20230201
SCRAPE_MS = 15_000
SPAN_MS = 3 * 3600 * 1000  # three hours of data
DEADLINE_S = 170  # whole run, including startup
HTTP_TIMEOUT_S = 30
MAX_REPORTED = 40

PROCS = []


def log(msg):
    print(msg, flush=True)


def kill_all():
    for p in PROCS:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=10)
            except Exception:
                pass


atexit.register(kill_all)


def end_run(work, keep, log_fn):
    """Kill the servers; keep the work dir (saying where) or remove it."""
    kill_all()
    if keep:
        log_fn("work dir kept: %s" % work)
    else:
        shutil.rmtree(work, ignore_errors=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

# ---------------------------------------------------------------------------- data


class Series:
    def __init__(self, name, labels):
        self.name = name
        self.labels = dict(labels)
        self.samples = []  # (t_ms, value)

    def key(self):
        return (self.name, tuple(sorted(self.labels.items())))


def fmt_value(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def esc(v):
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def series_text(s):
    if not s.labels:
        return s.name
    body = ",".join('%s="%s"' % (k, esc(v)) for k, v in sorted(s.labels.items()))
    return "%s{%s}" % (s.name, body)


def grid(t0, t1, rnd, jitter_ms):
    """Scrape times in [t0, t1) every SCRAPE_MS with jitter, strictly increasing."""
    out, last = [], None
    t = t0
    while t < t1:
        tj = t + (rnd.randint(-jitter_ms, jitter_ms) if jitter_ms else 0)
        if last is None or tj > last:
            out.append(tj)
            last = tj
        t += SCRAPE_MS
    return out


def generate(t_start, shared_data):
    rnd = random.Random(SEED)
    out = []
    t_end = t_start + SPAN_MS

    # Counters with resets, some starting late or stopping early.
    for job in ("api", "web"):
        for inst in ("0", "1", "2"):
            for code in ("200", "500"):
                s = Series("http_requests_total", {"job": job, "instance": inst, "code": code})
                rate = rnd.uniform(0.2, 25.0) if code == "200" else rnd.uniform(0.0, 0.8)
                begin = t_start + (40 * 60_000 if (job, inst, code) == ("web", "2", "500") else 0)
                end = t_end - (35 * 60_000 if (job, inst, code) == ("api", "1", "200") else 0)
                v = rnd.uniform(0, 1000)
                for t in grid(begin, end, rnd, 900):
                    if rnd.random() < 0.004:
                        v = rnd.choice([0.0, rnd.uniform(0, 5)])  # counter reset
                    else:
                        v += max(0.0, rnd.gauss(rate * 15, rate * 3))
                    s.samples.append((t, round(v, 3)))
                out.append(s)

    # CPU counters (fractional) and an info metric for joins.
    for inst in ("0", "1"):
        for mode in ("idle", "user", "system"):
            s = Series("cpu_seconds_total", {"instance": inst, "mode": mode})
            v = rnd.uniform(1e4, 1e5)
            share = {"idle": 0.7, "user": 0.2, "system": 0.1}[mode]
            for t in grid(t_start, t_end, rnd, 300):
                v += 4 * 15 * share * rnd.uniform(0.8, 1.2)
                s.samples.append((t, v))
            out.append(s)
    for inst, ver, region in (("0", "1.2.3", "eu"), ("1", "1.3.0", ""), ("2", "1.3.0", "us")):
        labels = {"instance": inst, "version": ver}
        if region:
            labels["region"] = region
        s = Series("node_info", labels)
        for t in grid(t_start, t_end, rnd, 0):
            s.samples.append((t, 1.0))
        out.append(s)

    # Gauges: sinusoids with noise (negative values), integer random walks (ties).
    for room in ("a", "b", "c"):
        for sensor in ("1", "2"):
            s = Series("temperature_celsius", {"room": room, "sensor": sensor})
            base = {"a": 21.0, "b": 18.0, "c": -3.0}[room]
            phase = rnd.uniform(0, 6.28)
            for t in grid(t_start, t_end, rnd, 1200):
                x = (t - t_start) / 3_600_000
                s.samples.append((t, round(base + 5 * math.sin(2 * x + phase) + rnd.gauss(0, 0.3), 2)))
            out.append(s)
    for q in ("q1", "q2", "q3", "q4", "q5"):
        s = Series("queue_length", {"queue": q})
        v = rnd.randint(0, 5)
        for t in grid(t_start, t_end, rnd, 0):
            if rnd.random() < 0.3:
                v = min(10, max(0, v + rnd.choice([-1, 1])))
            s.samples.append((t, float(v)))
        out.append(s)

    # Classic histograms (cumulative counters), one with a reset after two hours.
    bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, math.inf]
    for handler in ("/", "/api"):
        counts = [0.0] * len(bounds)
        total_sum = 0.0
        buckets = [Series("request_duration_seconds_bucket",
                          {"handler": handler, "le": "+Inf" if math.isinf(b) else repr(b)})
                   for b in bounds]
        ssum = Series("request_duration_seconds_sum", {"handler": handler})
        scount = Series("request_duration_seconds_count", {"handler": handler})
        for t in grid(t_start, t_end, rnd, 500):
            if handler == "/api" and abs(t - (t_start + 2 * 3_600_000)) < SCRAPE_MS // 2:
                counts = [0.0] * len(bounds)
                total_sum = 0.0
            for _ in range(rnd.randint(0, 40)):
                d = rnd.lognormvariate(-2.5 if handler == "/" else -1.0, 1.2)
                total_sum += d
                for i, b in enumerate(bounds):
                    if d <= b:
                        counts[i] += 1
            for i, b in enumerate(buckets):
                b.samples.append((t, counts[i]))
            ssum.samples.append((t, round(total_sum, 6)))
            scount.samples.append((t, counts[-1]))
        out += buckets + [ssum, scount]

    # Series that pause (gaps longer than the lookback), start late, stop early.
    for job, spans in (("j1", [(0, 40), (60, 90)]), ("j2", [(100, 180)]), ("j3", [(0, 150)]),
                       ("j4", [(10, 12), (13, 14)])):
        s = Series("batch_jobs_running", {"job": job})
        for a, b in spans:
            for t in grid(t_start + a * 60_000, t_start + b * 60_000, rnd, 0):
                s.samples.append((t, float(rnd.randint(0, 3))))
        out.append(s)

    # Two metrics with the same labels at disjoint times (label-set collisions after the
    # name is dropped happen at no step, but 2.42 checks some results as a whole).
    for name, (a, b) in (("old_metric", (0, 60)), ("new_metric", (90, 180))):
        s = Series(name, {"job": "j5"})
        for t in grid(t_start + a * 60_000, t_start + b * 60_000, rnd, 0):
            s.samples.append((t, float(rnd.randint(0, 100))))
        out.append(s)

    # up{} flips, edge values (big, tiny, NaN, Inf).
    for job in ("api", "web"):
        for inst in ("0", "1"):
            s = Series("up", {"job": job, "instance": inst})
            v = 1.0
            for t in grid(t_start, t_end, rnd, 0):
                if rnd.random() < 0.02:
                    v = 1.0 - v
                s.samples.append((t, v))
            out.append(s)
    for kind in ("big", "tiny", "mixed", "special", "cancel1", "cancel2"):
        s = Series("edge_values", {"kind": kind})
        for i, t in enumerate(grid(t_start, t_end, rnd, 0)):
            if kind == "big":
                v = 1e15 + i * 0.5
            elif kind == "tiny":
                v = 1e-10 * (i % 17)
            elif kind == "mixed":
                v = (-1) ** i * rnd.uniform(0, 100)
            elif kind == "cancel1":  # Kahan vs plain sums over time and across series
                v = [1e16, 1.0, -1e16, 1.0][i % 4]
            elif kind == "cancel2":
                v = [1.0, -1e16, 1.0, 1e16][i % 4]
            else:
                v = [1.0, math.nan, 2.0, math.inf, 3.0, -math.inf][(i // 40) % 6]
            s.samples.append((t, v))
        out.append(s)

      # A slice of the real node_exporter capture (1 s scrapes, real jitter), shifted to end
    # a minute before the synthetic data ends.
    path = os.path.join(shared_data or "", "node_exporter", "node_exporter_10m.om.gz")
    if shared_data and os.path.exists(path):
        keep = ("node_load1", "node_memory_MemAvailable_bytes", "node_network_receive_bytes_total",
                "node_cpu_seconds_total", "node_disk_written_bytes_total")
        by_key = {}
        with gzip.open(path, "rt") as f:
            for n_line, line in enumerate(f):
                if n_line > 400_000:
                    break
                if line.startswith("#"):
                    continue
                name = line.split("{", 1)[0].split(" ", 1)[0]
                if name not in keep:
                    continue
                desc, rest = (line.rsplit("}", 1) if "}" in line else line.split(" ", 1))
                labels = {}
                if "{" in desc:
                    for part in desc.split("{", 1)[1].split('",'):
                        if "=" in part:
                            k, v = part.split("=", 1)
                            labels[k.strip()] = v.strip().strip('"')
                fields = rest.split()
                if len(fields) < 2 or (name == "node_cpu_seconds_total" and labels.get("cpu") not in ("0", "1")):
                    continue
                s = by_key.get((name, tuple(sorted(labels.items()))))
                if s is None:
                    s = by_key[(name, tuple(sorted(labels.items())))] = Series(name, labels)
                s.samples.append((int(round(float(fields[1]) * 1000)), float(fields[0])))
        if by_key:
            last = max(s.samples[-1][0] for s in by_key.values() if s.samples)
            shift = (t_end - 60_000) - last
            for s in by_key.values():
                s.samples = [(t + shift, v) for t, v in s.samples]
                out.append(s)
    return out


def write_openmetrics(series, path):
    by_name = {}
    for s in series:
        by_name.setdefault(s.name, []).append(s)
    with open(path, "w") as f:
        for name in sorted(by_name):
            f.write("# TYPE %s unknown\n" % name)
            for s in by_name[name]:
                text = series_text(s)
                for t, v in s.samples:
                    f.write("%s %s %d.%03d\n" % (text, fmt_value(v), t // 1000, t % 1000))
        f.write("# EOF\n")


def import_batches(series, window_ms):
    """Exposition text (ms timestamps) per time window, each series in time order."""
    lo = min(s.samples[0][0] for s in series if s.samples)
    hi = max(s.samples[-1][0] for s in series if s.samples)
    pos = {id(s): 0 for s in series}
    t = lo - lo % window_ms
    while t <= hi:
        lines = []
        for s in series:
            i = pos[id(s)]
            text = series_text(s)
            while i < len(s.samples) and s.samples[i][0] < t + window_ms:
                lines.append("%s %s %d\n" % (text, fmt_value(s.samples[i][1]), s.samples[i][0]))
                i += 1
            pos[id(s)] = i
        if lines:
            yield "".join(lines)
        t += window_ms

# ---------------------------------------------------------------------------- servers


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sk:
        sk.bind(("127.0.0.1", 0))
        return sk.getsockname()[1]


def http(url, data=None, headers=None, timeout=HTTP_TIMEOUT_S):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, ConnectionError, socket.timeout) as e:
        return 0, str(e).encode()


def wait_ready(url, proc, what, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (what, proc.returncode))
        code, _ = http(url, timeout=2)
        if code == 200:
            return
        time.sleep(0.2)
    raise RuntimeError("%s not ready after %ds" % (what, seconds))


def start_prometheus(work, om_path, promtool_args=(), promtool_timeout=120, ready_s=60):
    """promtool turns om_path into blocks under work; prometheus serves them (no scraping)
    on 127.0.0.1. Returns its URL. Also used by bench/query_vs_prometheus.py."""
    blocks = os.path.join(work, "prom")
    r = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics",
                        *promtool_args, om_path, blocks],
                       capture_output=True, text=True, timeout=promtool_timeout)
    if r.returncode != 0:
        raise RuntimeError("promtool failed: " + r.stderr[-2000:])
    cfg = os.path.join(work, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 15s\n  evaluation_interval: 1m\n")
    for attempt in range(3):  # the free port may be taken before prometheus binds it
        port = free_port()
        logf = open(os.path.join(work, "prometheus.%d.log" % attempt), "w")
        p = subprocess.Popen(["prometheus", "--config.file=" + cfg,
                              "--storage.tsdb.path=" + blocks,
                              "--web.listen-address=127.0.0.1:%d" % port,
                              "--storage.tsdb.retention.time=3650d"],
                             stdout=logf, stderr=subprocess.STDOUT)
        PROCS.append(p)
        url = "http://127.0.0.1:%d" % port
        try:
            wait_ready(url + "/-/ready", p, "prometheus", ready_s)
            return url
        except RuntimeError:
            if attempt == 2:
                raise
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)


def start_strata(work, binary, extra_args=(), ready_s=60):
    """`strata serve` on 127.0.0.1 port 0 with its data under work; returns its URL."""
    logp = os.path.join(work, "strata.log")
    logf = open(logp, "w")
    p = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", *extra_args,
                          "--data-dir", os.path.join(work, "strata")],
                         stdout=logf, stderr=subprocess.STDOUT)
    PROCS.append(p)
    port = None
    for _ in range(300):
        if p.poll() is not None:
            raise RuntimeError("strata exited: " + open(logp).read()[-2000:])
        for line in open(logp):
            if "listening on http://127.0.0.1:" in line:
                port = line.split("listening on http://127.0.0.1:")[1].split()[0].rstrip(")")
                break
        if port:
            break
        time.sleep(0.1)
    if not port:
        raise RuntimeError("strata did not start")
    url = "http://127.0.0.1:%s" % port
    wait_ready(url + "/-/ready", p, "strata", ready_s)
    return url

# ---------------------------------------------------------------------------- comparison


def parse_float(s):
    return float(s)  # Go and Strata write NaN, +Inf, -Inf, which float() accepts


def close(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    d = abs(a - b)
    return d <= 1e-12 or d <= 1e-9 * max(abs(a), abs(b))


def label_key(m):
    return tuple(sorted(m.items()))


def compare(p, s, ordered):
    """None if equal, else a description of the first difference."""
    if p.get("status") != "success" or s.get("status") != "success":
        if p.get("status") == s.get("status") == "error":
            return None
        return "status: prometheus %s (%s), strata %s (%s)" % (
            p.get("status"), p.get("error", ""), s.get("status"), s.get("error", ""))
    pd, sd = p["data"], s["data"]
    if pd["resultType"] != sd["resultType"]:
        return "result type: prometheus %s, strata %s" % (pd["resultType"], sd["resultType"])
    rt = pd["resultType"]
    if rt in ("scalar", "string"):
        pt, pv = pd["result"]
        st, sv = sd["result"]
        if abs(float(pt) - float(st)) > 1e-6:
            return "timestamp %s vs %s" % (pt, st)
        ok = pv == sv if rt == "string" else close(parse_float(pv), parse_float(sv))
        return None if ok else "value: prometheus %s, strata %s" % (pv, sv)
    pr, sr = pd["result"], sd["result"]
    pm = {label_key(x["metric"]): x for x in pr}
    sm = {label_key(x["metric"]): x for x in sr}
    if len(pm) != len(pr) or len(sm) != len(sr):
        return "duplicate label sets in a result"
    if set(pm) != set(sm):
        only_p = sorted(set(pm) - set(sm))[:3]
        only_s = sorted(set(sm) - set(pm))[:3]
        return "series: %d vs %d; only prometheus %s; only strata %s" % (
            len(pm), len(sm), only_p, only_s)
    for k, x in pm.items():
        y = sm[k]
        if rt == "vector":
            (pt, pv), (st, sv) = x["value"], y["value"]
            if abs(float(pt) - float(st)) > 1e-6 or not close(parse_float(pv), parse_float(sv)):
                return "%s: prometheus %s@%s, strata %s@%s" % (dict(k), pv, pt, sv, st)
        else:
            pvs, svs = x["values"], y["values"]
            if len(pvs) != len(svs):
                return "%s: %d points vs %d" % (dict(k), len(pvs), len(svs))
            for (pt, pv), (st, sv) in zip(pvs, svs):
                if abs(float(pt) - float(st)) > 1e-6 or not close(parse_float(pv), parse_float(sv)):
                    return "%s: prometheus %s@%s, strata %s@%s" % (dict(k), pv, pt, sv, st)
    if ordered and rt == "vector":
        pvals = [parse_float(x["value"][1]) for x in pr]
        svals = [parse_float(x["value"][1]) for x in sr]
        for a, b in zip(pvals, svals):
            if not close(a, b):
                return "order: prometheus %s, strata %s" % (pvals[:10], svals[:10])
    return None


def query(base, params):
    url = base + ("/api/v1/query_range" if "step" in params else "/api/v1/query")
    code, body = http(url, data=urllib.parse.urlencode(params).encode(),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        return json.loads(body)
    except ValueError:
        return {"status": "error", "error": "HTTP %d: %r" % (code, body[:200])}

def wait_applied(prom, strata, t_start, t_end, seconds=30):
    """A 2xx from the import means durable in the log; the store applies it a moment later.
    Wait (bounded) until Strata returns as many raw samples as Prometheus over the range."""
    span = "%ds" % ((t_end - t_start) // 1000 + 60)
    params = {"query": "{__name__=~\".+\"}[%s]" % span, "time": secs(t_end)}

    def n_samples(answer):
        return sum(len(s.get("values", [])) for s in answer.get("data", {}).get("result", []))

    want = n_samples(query(prom, params))
    deadline = time.time() + seconds
    while True:
        got = n_samples(query(strata, params))
        if got == want:
            return
        if time.time() > deadline:
            raise RuntimeError("strata did not apply the imported samples within %ds: %d of %d"
                               % (seconds, got, want))
        time.sleep(0.1)

# ---------------------------------------------------------------------------- battery


def battery():
    """(expression, kind): kind 'all' = instant + range, 'instant' = instant only."""
    q = []

    def add(e, kind="all"):
        q.append((e, kind))

    sel = ["http_requests_total", "cpu_seconds_total", "temperature_celsius", "queue_length",
           "batch_jobs_running", "up", "edge_values", "node_load1",
           "node_network_receive_bytes_total", "request_duration_seconds_count"]
    for s in sel:
        add(s)
    add('http_requests_total{job="api", code!="500"}')
    add('http_requests_total{instance=~"0|2", code=~"2.."}')
    add('{__name__=~"http_requests_total|up", job="web"}')
    add('{__name__=~"queue_length|batch_jobs_running"}')
    add('temperature_celsius{room!~"a|b"}')
    add("http_requests_total offset 5m")
    add("http_requests_total offset -3m")
    add("queue_length offset 1h")
    add("queue_length @ {T_MID}")
    add("queue_length @ {T_MID} offset 10m")
    add("batch_jobs_running @ start()")
    add("batch_jobs_running @ end()")
    add("http_requests_total[5m]", "instant")
    add("queue_length[1m] offset 2m", "instant")
    add("temperature_celsius[2m] @ {T_MID}", "instant")
    add("queue_length[3m:1m]", "instant")

    # Range-vector functions over counters, gauges and gappy series.
    for f in ("rate", "increase", "irate", "delta", "idelta", "resets", "changes", "deriv"):
        for s in ("http_requests_total", "cpu_seconds_total", "batch_jobs_running"):
            add("%s(%s[5m])" % (f, s))
        add("%s(temperature_celsius[3m])" % f)
    add("rate(http_requests_total[1m])")
    add("rate(http_requests_total[47s])")
    add("rate(http_requests_total[1h])")
    add("increase(http_requests_total[10m] offset 20m)")
    add("rate(http_requests_total[5m] @ {T_MID})")
    add("increase(request_duration_seconds_count[15m])")
    add("rate(node_network_receive_bytes_total[30s])")
    add("irate(node_network_receive_bytes_total[10s])")
    add("rate(node_cpu_seconds_total[1m])")
    add("delta(node_memory_MemAvailable_bytes[2m])")
    add("deriv(node_memory_MemAvailable_bytes[3m])")
    add("rate(edge_values[5m])")
    add("delta(edge_values[5m])")
    for f in ("avg_over_time", "sum_over_time", "count_over_time", "min_over_time",
              "max_over_time", "last_over_time", "stddev_over_time", "stdvar_over_time",
              "present_over_time"):
        add("%s(temperature_celsius[10m])" % f)
        add("%s(batch_jobs_running[4m])" % f)
        add("%s(edge_values[7m])" % f)
    add("quantile_over_time(0.9, temperature_celsius[15m])")
    add("quantile_over_time(0.5, queue_length[10m])")
    add("quantile_over_time(0, http_requests_total[5m])")
    add("quantile_over_time(1.1, queue_length[5m])")
    add("absent_over_time(batch_jobs_running[3m])")
    add('absent_over_time(batch_jobs_running{job="j1"}[3m])')
    add('absent_over_time(nonexistent{job="x"}[5m])')
    add("predict_linear(temperature_celsius[10m], 600)")
    add("predict_linear(cpu_seconds_total[5m], 3600)")
    add("predict_linear(queue_length[10m] @ {T_MID}, 60)")
    add("holt_winters(temperature_celsius[10m], 0.3, 0.6)")
    add("holt_winters(queue_length[10m], 0.9, 0.1)")
    add("last_over_time(queue_length[10m] offset 1h)")
    add("sum_over_time(edge_values[1h])")
    add('sum_over_time(edge_values{kind=~"cancel.*"}[1m])')
    add('avg_over_time(edge_values{kind=~"cancel.*"}[2m])')
    add('sum(edge_values{kind=~"cancel.*|tiny"})')
    add('avg(edge_values{kind=~"cancel.*|tiny"})')

    # Arithmetic, comparisons, bool, scalar/vector combinations.
    add("http_requests_total * 2 - 10")
    add("100 / queue_length")
    add("queue_length % 3")
    add("2 ^ queue_length")
    add("queue_length ^ 0.5")
    add("temperature_celsius atan2 10")
    add("-temperature_celsius")
    add("queue_length > 4")
    add("4 < queue_length")
    add("queue_length >= bool 4")
    add("queue_length == 3")
    add("queue_length != bool 3")
    add("temperature_celsius < 0")
    add("edge_values > 1")
    add("edge_values * 0")
    add("1 + 2 * 3 - 4 / 2", "all")
    add("2 ^ 3 ^ 2")
    add("time() - 1000")
    add("time() > bool 0")
    add("queue_length + time()")
    add("queue_length / scalar(sum(queue_length))")
    add("scalar(queue_length)")
    add('scalar(queue_length{queue="q1"}) * 10')

    # Vector matching.
    add("rate(http_requests_total[5m]) / on(job, instance) group_left sum by (job, instance) (rate(http_requests_total[5m]))")
    add('http_requests_total{code="500"} / ignoring(code) http_requests_total{code="200"}')
    add('http_requests_total{code="500"} > bool ignoring(code) http_requests_total{code="200"}')
    add('http_requests_total{code="500"} / on(job, instance) http_requests_total{code="200"}')
    add("http_requests_total / on(job) http_requests_total")
    add("http_requests_total + on(job) group_left sum by (job) (http_requests_total)")
    add("sum by (job) (http_requests_total) - on(job) group_right sum by (job, instance) (http_requests_total)")
    add("cpu_seconds_total * on(instance) group_left(version, region) node_info")
    add("cpu_seconds_total > on(instance) group_left(version) (node_info * 0)")
    add("node_info * on(instance) group_right(version) cpu_seconds_total")
    add("rate(cpu_seconds_total[5m]) * ignoring(mode, version, region) group_left(version) node_info")
    add("up == on(job, instance) group_left up")
    add("up * on() group_left sum(up)")
    add("queue_length - queue_length offset 5m")
    add("temperature_celsius - ignoring(sensor) temperature_celsius")
    add("http_requests_total * ignoring(code) group_left up")
    add("up * ignoring(code) group_right http_requests_total")

    # Set operators.
    add("queue_length > 3 and queue_length < 8")
    add("queue_length > 7 or queue_length < 2")
    add("queue_length unless queue_length > 5")
    add("http_requests_total and on(job, instance) up == 1")
    add("http_requests_total unless on(job, instance) up == 0")
    add("up or http_requests_total")
    add("batch_jobs_running or vector(0)")
    add('batch_jobs_running{job="j1"} or on() vector(-1)')
    add("up and ignoring(job) up")
    add("(queue_length > 5) or ignoring(queue) (queue_length < 1)")

    # Aggregations.
    for a in ("sum", "avg", "count", "min", "max", "group", "stddev", "stdvar"):
        add("%s(http_requests_total)" % a)
        add("%s by (job) (rate(http_requests_total[5m]))" % a)
        add("%s without (sensor) (temperature_celsius)" % a)
        add("%s(edge_values)" % a)
    add("sum by (job, code) (increase(http_requests_total[10m]))")
    add("sum without (instance, code) (http_requests_total)")
    add("sum by (__name__) ({__name__=~\"queue_length|up\"})")
    add("avg(edge_values) by (kind)")
    add("count by (le) (request_duration_seconds_bucket)")
    for k in ("1", "2", "3", "7", "0", "-1", "2.9"):
        add("topk(%s, queue_length)" % k)
        add("bottomk(%s, queue_length)" % k)
    add("topk by (job) (2, rate(http_requests_total[5m]))")
    add("bottomk without (instance) (1, http_requests_total)")
    add("topk(3, edge_values)")
    add("bottomk(2, edge_values)")
    add("topk(scalar(min(queue_length)) + 1, queue_length)")
    add("quantile(0.5, queue_length)")
    add("quantile(0.9, rate(http_requests_total[5m]))")
    add("quantile by (room) (0.25, temperature_celsius)")
    add("quantile(1.5, queue_length)")
    add("quantile(-1, queue_length)")
    add("quantile(0.5, edge_values)")
    add('count_values("value", queue_length)')
    add('count_values by (job) ("v", up)')
    add('count_values("temp", round(temperature_celsius))')
    add('count_values("v", edge_values)')
    add("count(count by (job) (http_requests_total))")
    add("max(sum by (job) (rate(http_requests_total[5m])))")

    # Instant-vector functions.
    for f in ("abs", "ceil", "floor", "exp", "sqrt", "ln", "log2", "log10", "sgn", "deg", "rad",
              "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh",
              "acosh", "atanh"):
        add("%s(temperature_celsius / 10)" % f)
    add("exp(edge_values)")
    add("ln(queue_length)")
    add("log10(http_requests_total)")
    add("round(temperature_celsius)")
    add("round(temperature_celsius, 0.5)")
    add("round(temperature_celsius, 3)")
    add("round(edge_values, 0.1)")
    add("clamp(temperature_celsius, 0, 20)")
    add("clamp(temperature_celsius, 20, 0)")
    add("clamp_min(temperature_celsius, 18)")
    add("clamp_max(temperature_celsius, 18)")
    add("clamp_max(edge_values, 2)")
    add("sort(queue_length)")
    add("sort_desc(queue_length)")
    add("sort(temperature_celsius)")
    add("sort_desc(edge_values)")
    add("timestamp(queue_length)")
    add("timestamp(http_requests_total)")
    add("timestamp(queue_length offset 1m)")
    add("timestamp(queue_length @ {T_MID})")
    add("timestamp(sum(queue_length))")
    add("vector(1)")
    add("vector(time())")
    add("time()")
    add("pi()")
    for f in ("year", "month", "day_of_month", "day_of_week", "day_of_year", "days_in_month",
              "hour", "minute"):
        add("%s()" % f)
        add("%s(timestamp(queue_length))" % f)
    add('label_replace(http_requests_total, "svc", "$1-x", "job", "(.*)")')
    add('label_replace(http_requests_total, "code", "", "code", "5..")')
    add('label_replace(up, "instance", "host-${1}", "instance", "([0-9]+)")')
    add('label_replace(queue_length, "q", "$2$1", "queue", "(.)(.)")')
    add('label_replace(queue_length, "__name__", "renamed", "queue", "q1")')
    add('label_join(http_requests_total, "key", "/", "job", "instance", "code")')
    add('label_join(up, "job", "", "nonexistent")')
    add("absent(nonexistent)")
    add('absent(nonexistent{job="a", instance=~"x"})')
    add('absent(batch_jobs_running{job="j2"})')
    add("absent(up)")
    add("histogram_quantile(0.9, rate(request_duration_seconds_bucket[5m]))")
    add("histogram_quantile(0.5, sum by (le) (rate(request_duration_seconds_bucket[10m])))")
    add("histogram_quantile(0.99, sum by (le, handler) (increase(request_duration_seconds_bucket[1h])))")
    add("histogram_quantile(0, request_duration_seconds_bucket)")
    add("histogram_quantile(1, request_duration_seconds_bucket)")
    add("histogram_quantile(1.5, request_duration_seconds_bucket)")
    add("histogram_quantile(0.75, request_duration_seconds_bucket offset 30m)")
    add("rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])")

    # Subqueries.
    add("max_over_time(rate(http_requests_total[5m])[30m:1m])")
    add("avg_over_time(queue_length[10m:30s])")
    add("sum_over_time(queue_length[5m:])")
    add("min_over_time(sum(queue_length)[20m:2m])")
    add("max_over_time(deriv(temperature_celsius[5m])[15m:45s] offset 5m)")
    add("rate(sum(http_requests_total)[10m:15s])")
    add("count_over_time((queue_length > 5)[30m:1m])")
    add("last_over_time(queue_length[20m:1m] @ {T_MID})")
    add("max_over_time((queue_length @ {T_MID})[10m:1m])")
    add("avg_over_time(max_over_time(queue_length[5m:1m])[15m:5m])")
    add("absent_over_time((queue_length > 100)[10m:1m])")
    add("changes(round(temperature_celsius)[30m:1m])")
    add("quantile_over_time(0.5, rate(http_requests_total[2m])[20m:1m])")
    add("deriv(sum(cpu_seconds_total)[10m:])")
    add("holt_winters(sum(queue_length)[30m:1m], 0.5, 0.5)")

    # Staleness and lookback edges, expression combinations.
    add("batch_jobs_running > 0")
    add("count(batch_jobs_running)")
    add("sum(batch_jobs_running) by (job) * 2")
    add("batch_jobs_running offset 45m")
    add("avg(rate(cpu_seconds_total[5m])) by (instance) * 100")
    add("100 * (1 - avg by (instance) (rate(cpu_seconds_total{mode=\"idle\"}[5m])))")
    add("sum(rate(http_requests_total{code=\"500\"}[5m])) / sum(rate(http_requests_total[5m]))")
    add("topk(2, sum by (job, instance) (rate(http_requests_total[5m])))")
    add("sort_desc(sum by (instance) (cpu_seconds_total))")
    add("(queue_length + 1) * on(queue) group_left() (queue_length offset 10m)")
    add("queue_length / on(queue) (queue_length offset 1m > 0)")
    add("sum(up) by (job) / count(up) by (job)")

    # Step invariance and other 2.42 quirks, label-set collisions over time.
    add("topk(scalar(min(queue_length)) + 1, queue_length @ {T_MID})")
    add("quantile(scalar(queue_length{queue=\"q1\"}) / 10, queue_length @ {T_MID})")
    add("holt_winters(queue_length[10m] @ {T_MID}, scalar(queue_length{queue=\"q1\"}) / 11, 0.5)")
    add("quantile_over_time(scalar(queue_length{queue=\"q2\"}) / 10, temperature_celsius[10m] @ {T_MID})")
    add("predict_linear(temperature_celsius[10m] @ {T_MID}, 0)")
    add("predict_linear(max_over_time(queue_length[5m])[10m:1m] @ {T_MID}, 300)")
    add("rate(http_requests_total[5m] @ {T_MID}) + time() * 0")
    add("sum_over_time(queue_length[10m:1m] @ start())")
    add("max_over_time(queue_length[10m:1m] @ end() offset 5m)")
    add("timestamp(queue_length @ start())")
    add("hour(timestamp(queue_length @ {T_MID}))")
    add("vector(time()) + queue_length @ {T_MID}")
    add("abs({__name__=~\"old_metric|new_metric\"})")
    add("-{__name__=~\"old_metric|new_metric\"}")
    add("rate({__name__=~\"old_metric|new_metric\"}[5m])")
    add("last_over_time({__name__=~\"old_metric|new_metric\"}[5m])")
    add("{__name__=~\"old_metric|new_metric\"} + 1")
    add("sum by (job) ({__name__=~\"old_metric|new_metric\"})")
    add("label_replace({__name__=~\"old_metric|new_metric\"}, \"__name__\", \"x\", \"\", \"\")")
    add("count_values(\"v\", {__name__=~\"old_metric|new_metric\"} > 50)")
    add("sum_over_time({__name__=~\"old_metric|new_metric\"}[2h:10m])")
    add("old_metric or new_metric")
    add("old_metric and on() new_metric")
    add("absent(old_metric)")
    add("absent_over_time(new_metric[30m])")

    # Real 1 s scrapes with jitter: tiny windows, holt_winters, quantiles.
    add("rate(node_network_receive_bytes_total[2s])")
    add("increase(node_cpu_seconds_total[3s])")
    add("irate(node_cpu_seconds_total[5s])")
    add("idelta(node_load1[4s])")
    add("holt_winters(node_load1[1m], 0.1, 0.9)")
    add("quantile_over_time(0.25, node_load1[30s])")
    add("stddev_over_time(node_memory_MemAvailable_bytes[1m])")
    add("changes(node_load1[2m])")
    add("resets(node_disk_written_bytes_total[5m])")
    add("sum by (cpu) (rate(node_cpu_seconds_total[15s]))")
    add("deriv(node_disk_written_bytes_total[20s])")

    # Odd subquery steps and offsets, nesting, combinations.
    add("max_over_time(rate(http_requests_total[2m])[7m:13s] offset 17s)")
    add("min_over_time(queue_length[90s:7s])")
    add("sum_over_time(temperature_celsius[3m:1m] offset -2m)")
    add("absent_over_time(rate(batch_jobs_running[1m])[5m:30s])")
    add("timestamp(timestamp(queue_length))")
    add("sort_desc(topk(3, queue_length))")
    add("topk(2, edge_values{kind=\"special\"} or edge_values{kind=\"mixed\"})")
    add("quantile_over_time(NaN, queue_length[5m])")
    add("changes(edge_values[10m])")
    add("sum without (__name__) ({__name__=~\"queue_length|up\"})")
    add("label_replace(temperature_celsius, \"r\", \"[$1]\", \"room\", \"(a|b)?\")")
    add("label_replace(queue_length, \"x\", \"$1$2\", \"queue\", \"q(\\\\d)|(z)\")")
    add("count by (job) (up == bool 1) / on(job) group_left count by (job) (up)")
    add("up > bool on(job, instance) (up offset 10m)")
    add("(up == 0) * on(job, instance) group_right rate(http_requests_total[5m])")
    add("scalar(sum(up)) > bool 2")
    add("vector(scalar(count(queue_length > 5)))")
    add("abs(-queue_length) - queue_length")
    add("(1 - queue_length / 10) ^ 2")
    add("ceil(log2(http_requests_total + 1))")
    add("round(rate(http_requests_total[10m]) * 60, 0.01)")
    add("avg_over_time((rate(http_requests_total[1m]) > 1)[10m:1m])")
    add("histogram_quantile(0.5, sum by (le) (rate(request_duration_seconds_bucket[1m] offset 1h)))")
    add("histogram_quantile(scalar(queue_length{queue=\"q1\"}) / 10, rate(request_duration_seconds_bucket[5m]))")
    return q


def eval_points(t_start, t_end):
    mid = t_start + (t_end - t_start) // 2
    mid -= mid % 60_000
    inst = [t_end - 7_500, mid, t_start + 17 * 60_000 + 3_300, t_end + 4 * 60_000,
            t_start + 30_000]
    rng = [(t_start - 10 * 60_000, t_start + 50 * 60_000, 60_000),
           (mid, mid + 30 * 60_000, 15_000),
           (t_start, t_end, 300_000),
           (t_end - 3_600_000, t_end + 10 * 60_000, 37_000),
           (t_end - 12 * 60_000 + 1_234, t_end - 2 * 60_000, 5_000)]
    return mid, inst, rng


def secs(ms):
    return "%d.%03d" % (ms // 1000, ms % 1000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strata", required=True)
    ap.add_argument("--shared-data", default=os.environ.get("STRATA_SHARED_DATA", ""))
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--filter", default="")
    args = ap.parse_args()
    t0 = time.time()
    if not shutil.which("prometheus") or not shutil.which("promtool"):
        msg = "prometheus/promtool not installed (Debian package `prometheus`)"
        if os.environ.get("STRATA_REQUIRE_PROMETHEUS") == "1":
            log("FAIL: " + msg)
            return 1
        log("SKIP: " + msg)
        return 0
    work = tempfile.mkdtemp(prefix="strata-promql-compat.")
    ok = False
    try:
        now_ms = int(time.time() * 1000)
        t_end = now_ms - now_ms % 3_600_000 - 3_600_000
        t_start = t_end - SPAN_MS
        series = generate(t_start, args.shared_data)
        n_samples = sum(len(s.samples) for s in series)
        log("data: %d series, %d samples, %s .. %s" % (len(series), n_samples, secs(t_start),
                                                       secs(t_end)))
        om = os.path.join(work, "data.om")
        write_openmetrics(series, om)
        prom = start_prometheus(work, om)
        strata = start_strata(work, args.strata)
        for body in import_batches(series, 20 * 60_000):
            code, resp = http(strata + "/api/v1/import/prometheus", data=body.encode(),
                              headers={"Content-Type": "text/plain; version=0.0.4"})
            if code not in (200, 204):
                raise RuntimeError("import failed: HTTP %d %r" % (code, resp[:300]))
        wait_applied(prom, strata, t_start, t_end)
        log("loaded into prometheus and strata in %.1fs" % (time.time() - t0))

        mid, inst, rng = eval_points(t_start, t_end)
        subst = {"{T_MID}": secs(mid)}
        n_pass = n_fail = 0
        reported = 0
        for expr, kind in battery():
            if args.filter and args.filter not in expr:
                continue
            for k, v in subst.items():
                expr = expr.replace(k, v)
            top = expr.split("(", 1)[0].strip()
            ordered = top in ("sort", "sort_desc", "topk", "bottomk")
            cases = [{"query": expr, "time": secs(t)} for t in inst]
            if kind == "all":
                cases += [{"query": expr, "start": secs(a), "end": secs(b), "step": secs(st)}
                          for a, b, st in rng]
            for params in cases:
                if time.time() - t0 > DEADLINE_S:
                    raise RuntimeError("deadline of %ds exceeded after %d queries"
                                       % (DEADLINE_S, n_pass + n_fail))
                diff = compare(query(prom, params), query(strata, params),
                               ordered and "step" not in params)
                if diff is None:
                    n_pass += 1
                    continue
                n_fail += 1
                if reported < MAX_REPORTED:
                    reported += 1
                    where = ("time=%s" % params["time"]) if "time" in params else \
                        "range %s..%s step %s" % (params["start"], params["end"], params["step"])
                    log("MISMATCH %s [%s]: %s" % (expr, where, diff[:600]))
        log("%d passed, %d failed (%d expressions, %.1fs)" % (
            n_pass, n_fail, len(battery()), time.time() - t0))
        ok = n_fail == 0
        return 0 if ok else 1
    finally:
        end_run(work, args.keep or not ok, log)


if __name__ == "__main__":
    sys.exit(main())
