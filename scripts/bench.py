#!/usr/bin/env python3
"""The national-scale benchmark: generates the data set, bulk-loads it, starts the release server
on each backend and measures every endpoint the targets name with wrk, then writes the results.

Run it through scripts/bench.sh (which builds the release binary). Environment:
  BENCH_PROVINCES   comma-separated province codes to generate (default: all 34)
  BENCH_DURATION    seconds per wrk run (default 10)
  BENCH_BACKENDS    sqlite,postgres (default both)
  BENCH_PG_ADMIN    PostgreSQL URL to create the scratch database from
                    (default postgres://postgres@127.0.0.1:5432/test)
  BENCH_OUT         where to write the Markdown results (default: BENCHMARKS.md when the
                    whole country is generated, else only printed)
  BENCH_BIN         the niemyet binary (default target/release/niemyet)
"""

import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import date

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROVINCES = os.environ.get("BENCH_PROVINCES", "")
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
BACKENDS = os.environ.get("BENCH_BACKENDS", "sqlite,postgres").split(",")
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgres://postgres@127.0.0.1:5432/test")
BIN_SRC = os.environ.get("BENCH_BIN", os.path.join(ROOT, "target/release/niemyet"))
REPORT_PROVINCE = (PROVINCES.split(",")[0] if PROVINCES else "79")
FAILURES = []


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(url, port=None):
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": url,
        "NIEMYET_DEMO": "false",
        "NIEMYET_WORKERS": "2",
        "NIEMYET_DB_POOL_SIZE": "16",
        # The load comes from one address and a few tokens: no rate limit.
        "NIEMYET_RATE_PUBLIC": "0",
        "NIEMYET_RATE_TOKEN": "0",
        "RUST_LOG": "warn",
    })
    if port:
        env["NIEMYET_BIND"] = f"127.0.0.1:{port}"
    return env


def run(cmd, env, **kw):
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, **kw)


def http(method, url, token=None, body=None, headers=None):
    req = urllib.request.Request(url, method=method, data=body)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    started = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as r:
        data = r.read()
        status = r.status
    return status, data, time.perf_counter() - started


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def wrk(name, url, conns, token, script=None):
    # Like any HTTP client of the portal, wrk says it accepts gzip.
    cmd = ["wrk", f"-t{min(conns, 2)}", f"-c{conns}", f"-d{DURATION}s", "--latency",
           "-H", f"Authorization: Bearer {token}", "-H", "Accept-Encoding: gzip"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = to_ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = to_ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = sum(int(x) for x in sock.groups()) if sock else 0
    if non2xx or errors:
        FAILURES.append(f"{name} at {conns} connections: {non2xx} non-2xx, {errors} socket errors")
    log(f"  {name:<22} c={conns:<3} {rps:>10.1f} req/s  p50 {p50:8.3f} ms  p99 {p99:8.3f} ms"
        f"  ({total} requests, {non2xx} non-2xx, {errors} errors)")
    return {"rps": rps, "p50": p50, "p99": p99, "requests": total, "non2xx": non2xx,
            "errors": errors}


def rss_peak_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def start_server(binary, url):
    port = free_port()
    server = subprocess.Popen([binary, "serve"], env=env_for(url, port),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if http("GET", f"{base}/health")[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    return server, base


def bench_backend(backend, work, binary):
    if backend == "sqlite":
        url = os.path.join(work, "bench.db")
        drop = None
    else:
        name = f"niemyet_bench_{os.getpid()}"
        base = PG_ADMIN.rsplit("/", 1)[0]
        subprocess.run(["psql", PG_ADMIN, "-qc", f'DROP DATABASE IF EXISTS "{name}"'], check=True)
        subprocess.run(["psql", PG_ADMIN, "-qc", f'CREATE DATABASE "{name}"'], check=True)
        url = f"{base}/{name}"
        drop = name
    result = {"backend": backend}
    try:
        csv = os.path.join(work, f"postings-{backend}.csv")
        gen = [binary, "generate", "--out", csv]
        if PROVINCES:
            gen += ["--provinces", PROVINCES]
        log(f"[{backend}] generating")
        out = run(gen, env_for(url)).stderr.strip().splitlines()[-1]
        log(f"  {out}")
        result["generated"] = out
        log(f"[{backend}] bulk load")
        started = time.perf_counter()
        lines = run([binary, "load-postings", csv], env_for(url)).stderr.strip().splitlines()
        wall = time.perf_counter() - started
        out = next(l for l in lines if "loaded" in l)
        rows = int(re.search(r"loaded (\d+) postings", out).group(1))
        # The loader then stores every commune's summary for today (timed on its own line); the
        # rate is that of the load itself, process start included.
        primed = next((l for l in lines if "summaries" in l), None)
        prime_s = float(re.search(r"in ([\d.]+)s", primed).group(1)) if primed else 0.0
        load_s = wall - prime_s
        result["load"] = {"rows": rows, "seconds": load_s, "rows_per_s": rows / load_s,
                          "summaries_s": prime_s}
        log(f"  {out}; {rows / load_s:,.0f} rows/s including process start")
        if primed:
            log(f"  {primed}")

        server, base = start_server(binary, url)
        try:
            token = run([binary, "token", "--role", "admin", "--ttl", "2h"],
                        env_for(url)).stdout.strip()
            _, units, _ = http("GET", f"{base}/api/v1/units?parent={REPORT_PROVINCE}&limit=2")
            communes = [u["code"] for u in json.loads(units)["items"]]
            commune, put_commune = communes[0], communes[-1]
            result["commune"] = commune

            status, _, cold = http("GET", f"{base}/api/v1/reports/national", token)
            assert status == 200
            warm = []
            for _ in range(10):
                status, _, t = http("GET", f"{base}/api/v1/reports/national", token)
                assert status == 200
                warm.append(t)
            result["national_cold_ms"] = cold * 1000
            result["national_warm_ms"] = statistics.median(warm) * 1000
            log(f"  national report: first {cold * 1000:.0f} ms, then median "
                f"{statistics.median(warm) * 1000:.1f} ms")

            # Two inventories of one commune, alternated so that every PUT changes something.
            _, listed, _ = http("GET", f"{base}/api/v1/communes/{put_commune}/postings", token)
            items = json.loads(listed)["items"]
            lines = [{"procedure_code": p["procedure_code"], "channel": p["channel"],
                      "decision": p["decision"], "posted_on": p["posted_on"]} for p in items]
            changed = [dict(l) for l in lines]
            for l in changed[:20]:
                l["posted_on"] = "2025-07-01" if l["posted_on"] != "2025-07-01" else "2025-07-02"
            lua = os.path.join(work, "put.lua")
            bodies = [json.dumps({"postings": lines}), json.dumps({"postings": changed})]
            with open(lua, "w") as f:
                f.write('wrk.method = "PUT"\nwrk.headers["Content-Type"] = "application/json"\n'
                        "local bodies = {" + ",".join("[==[" + b + "]==]" for b in bodies) + "}\n"
                        "local n = 0\nrequest = function()\n  n = n + 1\n"
                        "  return wrk.format(nil, nil, nil, bodies[n % 2 + 1])\nend\n")
            result["put_rows"] = len(lines)

            # The portal's search box: the judged query set in turn (the same URL again is answered
            # from memory), and the same queries each for another date (nothing to reuse).
            searches = []
            with open(os.path.join(ROOT, "tests", "search", "queries.tsv"), encoding="utf-8") as f:
                next(f)
                for row in f:
                    kind, q, _, filt, *_ = row.rstrip("\n").split("\t") + ["", ""]
                    path = "/api/v1/procedures?limit=20&q=" + urllib.parse.quote(q)
                    searches.append(path + ("&" + filt if filt else ""))
            mix = os.path.join(work, "search.lua")
            fresh = os.path.join(work, "search-fresh.lua")
            for script, dated in [(mix, False), (fresh, True)]:
                with open(script, "w") as f:
                    f.write("local paths = {" + ",".join("[==[" + p + "]==]" for p in searches)
                            + "}\nlocal n = 0\nrequest = function()\n  n = n + 1\n"
                            + "  local path = paths[n % #paths + 1]\n")
                    if dated:
                        # A date from 2025-07-01 on, different for each round of the set.
                        f.write("  local day = math.floor(n / #paths) % 28 + 1\n"
                                "  local month = math.floor(n / #paths / 28) % 12 + 1\n"
                                "  path = path .. string.format('&as_of=2026-%02d-%02d', "
                                "month, day)\n")
                    f.write("  return wrk.format('GET', path)\nend\n")

            runs = {}
            for name, path, conns, script in [
                ("search", "/", 1, mix), ("search", "/", 64, mix),
                ("search, each new", "/", 1, fresh), ("search, each new", "/", 64, fresh),
                ("list", "/api/v1/procedures?level=commune&limit=50", 1, None),
                ("list", "/api/v1/procedures?level=commune&limit=50", 64, None),
            ]:
                runs[(name, conns)] = wrk(name, base + path, conns, token, script)
            for name, path, conns in [
                ("health", "/health", 1), ("health", "/health", 64),
                ("procedure", "/api/v1/procedures/1.001193", 1),
                ("procedure", "/api/v1/procedures/1.001193", 64),
                ("commune report", f"/api/v1/communes/{commune}/report", 1),
                ("commune report", f"/api/v1/communes/{commune}/report", 64),
                ("province report", f"/api/v1/provinces/{REPORT_PROVINCE}/report", 1),
                ("province report", f"/api/v1/provinces/{REPORT_PROVINCE}/report", 64),
                ("national report", "/api/v1/reports/national", 1),
            ]:
                runs[(name, conns)] = wrk(name, base + path, conns, token)
            runs[("inventory PUT", 1)] = wrk(
                "inventory PUT", f"{base}/api/v1/communes/{put_commune}/postings", 1, token, lua)
            result["runs"] = {f"{k[0]}|{k[1]}": v for k, v in runs.items()}
            result["rss_mib"] = rss_peak_mib(server.pid)
            health64 = runs[("health", 64)]["rps"]
            for name in ["search", "search, each new", "list", "procedure", "commune report",
                         "province report"]:
                log(f"  {name} / health throughput at 64 connections: "
                    f"{runs[(name, 64)]['rps'] / health64:.1%}")
            log(f"  server peak RSS: {result['rss_mib']:.0f} MiB")
        finally:
            server.terminate()
            server.wait(timeout=60)

        # The same first request with no stored summaries: every posting is read and summarised.
        clear = "DELETE FROM commune_summaries"
        if backend == "sqlite":
            import sqlite3
            with sqlite3.connect(url) as db:
                db.execute(clear)
        else:
            subprocess.run(["psql", url, "-qc", clear], check=True)
        server, base = start_server(binary, url)
        try:
            status, _, cold = http("GET", f"{base}/api/v1/reports/national", token)
            assert status == 200
            result["national_recompute_ms"] = cold * 1000
            log(f"  national report with no stored summaries: {cold * 1000:.0f} ms")
        finally:
            server.terminate()
            server.wait(timeout=60)
    finally:
        if drop:
            subprocess.run(["psql", PG_ADMIN, "-qc", f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)'])
    return result


def markdown(results, command):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    out = [
        "# Benchmarks",
        "",
        f"Measured on {date.today().isoformat()} on {os.cpu_count()} cores ({cpu}), "
        f"{platform.system()} {platform.release()}, load generator (wrk) on the same machine. "
        f"Each wrk run lasts {DURATION} s. Reproduce with:",
        "",
        "```sh",
        command,
        "```",
        "",
    ]
    for r in results:
        runs = {k: v for k, v in r["runs"].items()}
        h64 = runs["health|64"]["rps"]
        out += [
            f"## {r['backend']}",
            "",
            f"- Data: {r['generated'].split(': ', 1)[-1]}",
            f"- Bulk load: {r['load']['rows']:,} postings in {r['load']['seconds']:.1f} s, "
            f"**{r['load']['rows_per_s']:,.0f} rows/s** (process start, checking and index "
            "builds included); the loader then stored every commune's summary for today in "
            f"{r['load']['summaries_s']:.1f} s",
            f"- National report: first request after start **{r['national_cold_ms']:.0f} ms**, "
            f"then median **{r['national_warm_ms']:.1f} ms**; the first request after a start "
            f"with no stored summaries (every posting read and summarised) "
            f"{r['national_recompute_ms']:.0f} ms",
            f"- Server peak RSS over the whole run: **{r['rss_mib']:.0f} MiB**",
            f"- Commune report: commune {r['commune']}; inventory PUT: {r['put_rows']} lines, "
            "alternating two versions so that every request changes 20 postings",
            "",
            "| endpoint | connections | req/s | of /health at 64 | p50 ms | p99 ms | non-2xx | errors |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for key, v in runs.items():
            name, conns = key.split("|")
            ratio = f"{v['rps'] / h64:.1%}" if conns == "64" else ""
            out.append(f"| {name} | {conns} | {v['rps']:,.0f} | {ratio} | {v['p50']:.3f} | "
                       f"{v['p99']:.3f} | {v['non2xx']} | {v['errors']} |")
        out.append("")
    return "\n".join(out)


def main():
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="niemyet-bench-") as work:
        binary = os.path.join(work, "niemyet")
        shutil.copy2(BIN_SRC, binary)
        results = [bench_backend(b, work, binary) for b in BACKENDS]
    command = "scripts/bench.sh" + (f"  # BENCH_PROVINCES={PROVINCES}" if PROVINCES else "")
    text = markdown(results, command)
    out = os.environ.get("BENCH_OUT") or ("" if PROVINCES else os.path.join(ROOT, "BENCHMARKS.md"))
    if out:
        with open(out, "w") as f:
            f.write(text)
        log(f"results written to {out}")
    else:
        print(text)
    if FAILURES:
        log("FAILURES:\n  " + "\n  ".join(FAILURES))
        sys.exit(1)


if __name__ == "__main__":
    main()
