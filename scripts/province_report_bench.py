#!/usr/bin/env python3
"""Times the province report of Thành phố Hồ Chí Minh (79, 168 communes) with every commune
posting about 95% of its required procedures on both channels, on SQLite and on PostgreSQL, and
the national report over the same data (3,321 communes evaluated).

For each backend: a fresh database, the release server, one inventory PUT per commune (timed),
a warm-up report, then RUNS timed reports (median), a check that the report is right, and the
server's peak RSS (VmHWM).

    python3 scripts/province_report_bench.py            # RUNS=5, PG_URL=postgres://postgres@127.0.0.1:5432/test
"""
import json, os, shutil, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "niemyet")
RUNS = int(os.environ.get("RUNS", "5"))
PG_URL = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/test")
PORT = 18090
BASE = f"http://127.0.0.1:{PORT}"


def call(method, path, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    started = time.perf_counter()
    with urllib.request.urlopen(req, timeout=300) as resp:
        payload = resp.read()
        status = resp.status
    return status, payload, time.perf_counter() - started


def pages(path, token=None):
    items, cursor = [], ""
    while True:
        _, payload, _ = call("GET", f"{path}&limit=500{cursor}", token)
        page = json.loads(payload)
        items += page["items"]
        if not page.get("next_cursor"):
            return items
        cursor = f"&cursor={page['next_cursor']}"


def run(backend, database_url, env):
    env = dict(env, DATABASE_URL=database_url, NIEMYET_BIND=f"127.0.0.1:{PORT}", NIEMYET_DEMO="false",
               NIEMYET_RATE_PUBLIC="0", NIEMYET_RATE_TOKEN="0", RUST_LOG="warn")
    server = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                if call("GET", "/ready")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        token = subprocess.check_output([BIN, "token", "--role", "admin"], env=env, text=True).strip()
        procedures = pages("/api/v1/procedures?level=commune&province=79")
        communes = pages("/api/v1/units?parent=79")
        put_times, posted = [], 0
        for n, commune in enumerate(communes):
            lines = []
            for i, p in enumerate(procedures):
                for channel in ("counter", "portal"):
                    if (i * 7 + n + (channel == "portal")) % 20 == 0:
                        continue  # about 5% not posted
                    lines.append({"procedure_code": p["code"], "channel": channel,
                                  "decision": p["announced_by"], "posted_on": "2025-07-03"})
            posted += len(lines)
            status, _, seconds = call("PUT", f"/api/v1/communes/{commune['code']}/postings", token, {"postings": lines})
            assert status == 200
            put_times.append(seconds)
        call("GET", "/api/v1/provinces/79/report", token)  # warm-up
        times = []
        for _ in range(RUNS):
            _, payload, seconds = call("GET", "/api/v1/provinces/79/report", token)
            times.append(seconds)
        report = json.loads(payload)
        totals = report["totals"]
        assert totals["communes"] == len(communes) == 168, totals
        assert totals["required_pairs"] == 168 * len(procedures) * 2, totals
        assert totals["ok"] == posted, (totals["ok"], posted)
        national = []
        for _ in range(3):
            _, payload, seconds = call("GET", "/api/v1/reports/national", token)
            national.append(seconds)
        assert json.loads(payload)["totals"]["communes"] == 3321
        with open(f"/proc/{server.pid}/status") as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmHWM")) // 1024
        print(f"{backend:8} communes={len(communes)} procedures={len(procedures)} postings={posted} "
              f"PUT median {statistics.median(put_times)*1000:.0f} ms ({len(lines)} lines) | "
              f"province report median {statistics.median(times)*1000:.0f} ms over {RUNS} runs "
              f"(min {min(times)*1000:.0f}, max {max(times)*1000:.0f}) | "
              f"national report median {statistics.median(national)*1000:.0f} ms over 3 runs | peak RSS {rss} MiB")
    finally:
        server.terminate()
        server.wait(timeout=60)


def main():
    subprocess.check_call(["cargo", "build", "--release", "--quiet", "--bin", "niemyet"], cwd=ROOT)
    print(f"machine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}")
    work = tempfile.mkdtemp()
    try:
        run("sqlite", os.path.join(work, "bench.db"), os.environ)
        name = "niemyet_bench_province"
        psql = ["psql", PG_URL, "-qc"]
        env = dict(os.environ, PGOPTIONS="--client-min-messages=warning")
        subprocess.check_call(psql + [f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], env=env)
        subprocess.check_call(psql + [f"CREATE DATABASE {name}"], env=env)
        try:
            run("postgres", PG_URL.rsplit("/", 1)[0] + "/" + name, os.environ)
        finally:
            subprocess.check_call(psql + [f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], env=env)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
