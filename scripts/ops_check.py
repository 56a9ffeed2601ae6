#!/usr/bin/env python3
"""Operations check against the release server, on each backend: heavy reports that starve
nothing, imports that cannot exhaust memory, rate limits that keep the service healthy, and the
metrics that show it all. Prints one line per figure and exits non-zero on any failure.

Run it through scripts/ops-check.sh (which builds the release binary). Environment:
  OPS_BACKENDS   sqlite,postgres (default both)
  OPS_PG_ADMIN   PostgreSQL URL to create the scratch databases from
                 (default postgres://postgres@127.0.0.1:5432/test)
  OPS_QUICK      1: fewer and smaller rounds (what CI runs)

1. Sixteen national reports for sixteen distinct dates at once (eight when quick), and a commune
   officer's report asked 50 ms later: every national report answers 200, and the commune report
   answers in under half the national reports' run (at least 200 ms allowed): not starved. Then again with NIEMYET_DB_POOL_SIZE=2 and two national reports.
2. Eight gzip import dry runs at once, each expanding to 250 MiB (three of 64 MiB when quick),
   while /health is asked every 100 ms: the server's peak RSS, the slowest /health, and how many
   imports were told to come back (503) rather than run.
3. A burst of 200 anonymous requests at a 20-per-second limit: how many got 429, and /health and
   a token-bearing request answering throughout.
4. /metrics, read with the scrape token: the request counters of the rounds above.
"""

import concurrent.futures
import gzip
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("OPS_BIN", os.path.join(ROOT, "target/release/niemyet"))
BACKENDS = os.environ.get("OPS_BACKENDS", "sqlite,postgres").split(",")
PG_ADMIN = os.environ.get("OPS_PG_ADMIN", "postgres://postgres@127.0.0.1:5432/test")
QUICK = os.environ.get("OPS_QUICK") == "1"
SCRAPE = "ops-check-scrape-token-0001"
SECRET = "ops-check-secret-that-is-long-enough-0000"
FAILURES = []


def log(msg):
    print(msg, flush=True)


def fail(msg):
    FAILURES.append(msg)
    log(f"FAIL: {msg}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url, token=None, data=None, headers=None, timeout=120):
    """(status, body bytes, seconds); never raises for an HTTP status."""
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=h, method="POST" if data else "GET")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), time.monotonic() - started
    except urllib.error.HTTPError as e:
        return e.code, e.read(), time.monotonic() - started


class Server:
    def __init__(self, url, extra=None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, DATABASE_URL=url, NIEMYET_BIND=f"127.0.0.1:{self.port}",
                        NIEMYET_DEMO="true", NIEMYET_JWT_SECRET=SECRET,
                        NIEMYET_METRICS_TOKEN=SCRAPE, NIEMYET_RATE_PUBLIC="0",
                        NIEMYET_RATE_TOKEN="0", RUST_LOG="warn")
        self.env.pop("RUST_BACKTRACE", None)
        self.env.update(extra or {})
        self.proc = subprocess.Popen([BIN, "serve"], env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        for _ in range(1200):
            try:
                if request(self.base + "/ready", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def token(self, *args):
        out = subprocess.run([BIN, "token", *args], env=self.env, check=True,
                             capture_output=True, text=True)
        return out.stdout.strip()

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            values = {l.split(":")[0]: int(l.split()[1]) for l in f
                      if l.startswith(("VmRSS", "VmHWM"))}
        return values["VmRSS"] / 1024, values["VmHWM"] / 1024

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)


def national_round(server, reports, label):
    auditor = server.token("--role", "auditor", "--ttl", "1h")
    officer = server.token("--role", "officer", "--unit", "23764", "--ttl", "1h")
    urls = [f"{server.base}/api/v1/reports/national?as_of=2026-0{1 + d // 28}-{1 + d % 28:02}"
            for d in range(reports)]
    with concurrent.futures.ThreadPoolExecutor(reports + 1) as pool:
        started = time.monotonic()
        futures = [pool.submit(request, u, auditor) for u in urls]
        time.sleep(0.05)
        status, _, commune_secs = request(
            f"{server.base}/api/v1/communes/23764/report?as_of=2026-02-01", officer)
        results = [f.result() for f in futures]
        total = time.monotonic() - started
    statuses = sorted({r[0] for r in results})
    slowest = max(r[2] for r in results)
    log(f"  {label}: {reports} national reports in {total:.2f} s (slowest {slowest:.2f} s), "
        f"statuses {statuses}; commune report {status} in {commune_secs * 1000:.1f} ms")
    if statuses != [200]:
        fail(f"{label}: national reports answered {statuses}")
    # Starved, the commune report would wait for the national reports and answer about when they
    # end; served alongside them, it answers well before. On these shared 2-core machines an
    # absolute bound alone is flaky (35 to 263 ms measured for the same build), so the bound is
    # half the national reports' run, and never less than 200 ms.
    limit = max(0.2, total / 2)
    if status != 200 or commune_secs >= limit:
        fail(f"{label}: the commune report answered {status} in {commune_secs * 1000:.0f} ms "
             f"(limit {limit * 1000:.0f} ms)")


def import_round(server):
    editor = server.token("--role", "editor", "--ttl", "1h")
    count, mib = (3, 64) if QUICK else (8, 250)
    # Blank lines compress to almost nothing and expand to `mib` MiB: the import reads them all.
    body = gzip.compress(b"\n" * (mib * 1024 * 1024), compresslevel=9)
    before, _ = server.rss_mib()
    health = []
    stop = threading.Event()

    def probe():
        while not stop.is_set():
            health.append(request(server.base + "/health", timeout=30)[2])
            time.sleep(0.1)

    prober = threading.Thread(target=probe)
    prober.start()
    url = f"{server.base}/api/v1/catalogue/import?dry_run=true"
    headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        results = list(pool.map(lambda _: request(url, editor, body, headers), range(count)))
    stop.set()
    prober.join()
    _, peak = server.rss_mib()
    statuses = {}
    for status, _, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    log(f"  imports: {count} dry runs of {len(body) // 1024} KiB expanding to {mib} MiB: "
        f"answers {dict(sorted(statuses.items()))}; RSS {before:.0f} MiB before, peak "
        f"{peak:.0f} MiB; /health slowest {max(health) * 1000:.1f} ms of {len(health)}")
    if any(s >= 500 and s != 503 for s in statuses) or set(statuses) - {413, 422, 503}:
        fail(f"imports answered {statuses}")
    if max(health) > 0.5:
        fail(f"/health took {max(health):.2f} s during the imports")


def rate_round(url):
    server = Server(url, {"NIEMYET_RATE_PUBLIC": "20", "NIEMYET_SEED": "true"})
    try:
        admin = server.token("--role", "admin", "--ttl", "1h")
        statuses = {}
        started = time.monotonic()
        for _ in range(200):
            status = request(server.base + "/api/v1/procedures/1.001193")[0]
            statuses[status] = statuses.get(status, 0) + 1
        took = time.monotonic() - started
        health = request(server.base + "/health")[0]
        other = request(server.base + "/api/v1/sectors", admin)[0]
        log(f"  rate limit 20/s: 200 anonymous requests in {took:.2f} s answered "
            f"{dict(sorted(statuses.items()))}; /health {health}; a token's request {other}")
        if statuses.get(429, 0) < 100 or set(statuses) - {200, 429} or health != 200 \
                or other != 200:
            fail(f"rate limit: {statuses}, health {health}, token {other}")
    finally:
        server.stop()


def metrics_round(server):
    status, body, _ = request(server.base + "/metrics", SCRAPE)
    text = body.decode()
    wanted = ['niemyet_http_requests_total{method="GET",route="/api/v1/reports/national",'
              'status="200"}', "niemyet_heavy_wait_seconds_count",
              'niemyet_report_computations_total{kind="national_report"}']
    found = {w: next((l.split()[-1] for l in text.splitlines() if l.startswith(w)), None)
             for w in wanted}
    log(f"  metrics: {status}; " + "; ".join(f"{w.split('{')[0]} = {v}" for w, v in found.items()))
    if status != 200 or None in found.values():
        fail(f"metrics: {status} {found}")


def database(backend, work, name):
    if backend == "sqlite":
        return os.path.join(work, f"{name}.db")
    admin = PG_ADMIN
    subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                   check=True, capture_output=True)
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True,
                   capture_output=True)
    return admin.rsplit("/", 1)[0] + f"/{name}"


def main():
    log(f"machine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}; quick={QUICK}")
    with tempfile.TemporaryDirectory() as work:
        for backend in BACKENDS:
            log(f"== {backend}")
            url = database(backend, work, "ops_check")
            server = Server(url)
            try:
                national_round(server, 8 if QUICK else 16, "pool 8")
                import_round(server)
                metrics_round(server)
            finally:
                server.stop()
            small = Server(url, {"NIEMYET_DB_POOL_SIZE": "2"})
            try:
                national_round(small, 2, "pool 2")
            finally:
                small.stop()
            rate_round(database(backend, work, "ops_check_rate"))
    if FAILURES:
        log(f"{len(FAILURES)} failure(s)")
        sys.exit(1)
    log("all checks passed")


if __name__ == "__main__":
    main()
