#!/usr/bin/env python3
"""Soak: 60 s of mixed reads and writes at 64 connections against the release server, on each
backend; checks 0 errors and 0 non-2xx answers, and that the server's resident memory at the end
is within 10% of what it was after a warm-up with the same mix.

Run it through scripts/soak.sh (which builds the release binary). Environment:
  SOAK_SECONDS     length of the measured run (default 60)
  SOAK_WARMUP      length of the warm-up (default 60: long enough for the SQLite page caches
                   and the report caches to fill)
  SOAK_PROVINCE    province whose communes are generated and used (default 79)
  SOAK_BACKENDS    sqlite,postgres (default both)
  SOAK_PG_ADMIN    PostgreSQL URL to create the scratch database from
                   (default postgres://postgres@127.0.0.1:5432/test)

The mix, per 20 requests: 1 whole-inventory PUT (4 communes in turn, each alternating two
versions that differ in 20 postings), 1 single-posting PUT, 2 province reports, 6 commune
reports (20 communes in turn), 5 procedure reads, 5 inventory reads.
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("SOAK_BIN", os.path.join(ROOT, "target/release/niemyet"))
SECONDS = int(os.environ.get("SOAK_SECONDS", "60"))
WARMUP = int(os.environ.get("SOAK_WARMUP", "60"))
PROVINCE = os.environ.get("SOAK_PROVINCE", "79")
BACKENDS = os.environ.get("SOAK_BACKENDS", "sqlite,postgres").split(",")
PG_ADMIN = os.environ.get("SOAK_PG_ADMIN", "postgres://postgres@127.0.0.1:5432/test")
FAILURES = []


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def env_for(url, port=None):
    env = dict(os.environ, DATABASE_URL=url, NIEMYET_DEMO="false", NIEMYET_RATE_PUBLIC="0",
               NIEMYET_RATE_TOKEN="0", RUST_LOG="warn")
    if port:
        env["NIEMYET_BIND"] = f"127.0.0.1:{port}"
    return env


def get(url, token):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        values = {l.split(":")[0]: int(l.split()[1]) for l in f if l.startswith(("VmRSS", "VmHWM"))}
    return values["VmRSS"] / 1024, values["VmHWM"] / 1024


def lua_script(token, communes, inventories):
    def q(s):
        return "[==[" + s + "]==]"
    single = f"/api/v1/communes/{communes[0]}/postings/1.001193/counter"
    province = f"/api/v1/provinces/{PROVINCE}/report"
    procedure = "/api/v1/procedures/1.001193"
    puts = []
    for code, (a, b) in inventories.items():
        puts.append((f"/api/v1/communes/{code}/postings", a))
        puts.append((f"/api/v1/communes/{code}/postings", b))
    singles = [json.dumps({"decision": "163/QĐ-BTP", "posted_on": d})
               for d in ["2025-07-03", "2025-07-04"]]
    lines = [
        'wrk.headers["Authorization"] = "Bearer ' + token + '"',
        'wrk.headers["Content-Type"] = "application/json"',
        "local puts = {" + ",".join("{" + q(p) + "," + q(b) + "}" for p, b in puts) + "}",
        "local singles = {" + ",".join(q(s) for s in singles) + "}",
        "local communes = {" + ",".join(q(c) for c in communes) + "}",
        "local n, p, s, c = 0, 0, 0, 0",
        "request = function()",
        "  n = n + 1",
        "  local k = n % 20",
        "  if k == 0 then p = p + 1; local r = puts[p % #puts + 1]; "
        "return wrk.format('PUT', r[1], nil, r[2]) end",
        "  if k == 1 then s = s + 1; return wrk.format('PUT', " + q(single) +
        ", nil, singles[s % 2 + 1]) end",
        "  if k <= 3 then return wrk.format('GET', " + q(province) + ") end",
        "  if k <= 9 then c = c + 1; return wrk.format('GET', '/api/v1/communes/' .. "
        "communes[c % #communes + 1] .. '/report') end",
        "  if k <= 14 then return wrk.format('GET', " + q(procedure) + ") end",
        "  return wrk.format('GET', '/api/v1/communes/' .. communes[k % #communes + 1] .. "
        "'/postings')",
        "end",
    ]
    return "\n".join(lines) + "\n"


def run_wrk(base, script, seconds):
    # A client waits as long as the server's own request time limit (30 s), not wrk's 2 s.
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", "--timeout", "30s", "-s", script,
                          base],
                         check=True, capture_output=True, text=True).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = sum(int(x) for x in sock.groups()) if sock else 0
    return total, rps, non2xx, errors


def soak(backend, work):
    if backend == "sqlite":
        url, drop = os.path.join(work, "soak.db"), None
    else:
        drop = f"niemyet_soak_{os.getpid()}"
        subprocess.run(["psql", PG_ADMIN, "-qc", f'DROP DATABASE IF EXISTS "{drop}"'],
                       check=True, capture_output=True)
        subprocess.run(["psql", PG_ADMIN, "-qc", f'CREATE DATABASE "{drop}"'], check=True)
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + drop
    server = None
    try:
        csv = os.path.join(work, f"postings-{backend}.csv")
        subprocess.run([BIN, "generate", "--out", csv, "--provinces", PROVINCE], env=env_for(url),
                       check=True, capture_output=True)
        subprocess.run([BIN, "load-postings", csv], env=env_for(url), check=True,
                       capture_output=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([BIN, "serve"], env=env_for(url, port),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        token = subprocess.run([BIN, "token", "--role", "admin", "--ttl", "2h"], env=env_for(url),
                               check=True, capture_output=True, text=True).stdout.strip()
        units = get(f"{base}/api/v1/units?parent={PROVINCE}&limit=24", token)["items"]
        communes = [u["code"] for u in units][:20]
        inventories = {}
        for code in [u["code"] for u in units][20:24]:
            items = get(f"{base}/api/v1/communes/{code}/postings", token)["items"]
            lines = [{"procedure_code": p["procedure_code"], "channel": p["channel"],
                      "decision": p["decision"], "posted_on": p["posted_on"]} for p in items]
            changed = [dict(l) for l in lines]
            for l in changed[:20]:
                l["posted_on"] = "2025-07-01" if l["posted_on"] != "2025-07-01" else "2025-07-02"
            inventories[code] = (json.dumps({"postings": lines}), json.dumps({"postings": changed}))
        script = os.path.join(work, f"mix-{backend}.lua")
        with open(script, "w") as f:
            f.write(lua_script(token, communes, inventories))

        total, rps, non2xx, errors = run_wrk(base, script, WARMUP)
        warm, _ = rss_mib(server.pid)
        log(f"[{backend}] warm-up {WARMUP} s: {total} requests, {non2xx} non-2xx, {errors} errors;"
            f" RSS {warm:.0f} MiB")
        total, rps, non2xx, errors = run_wrk(base, script, SECONDS)
        end, peak = rss_mib(server.pid)
        growth = (end - warm) / warm
        log(f"[{backend}] {SECONDS} s at 64 connections: {total} requests ({rps:.0f}/s), "
            f"{non2xx} non-2xx, {errors} errors; RSS {end:.0f} MiB at the end "
            f"({growth:+.1%} on the warm-up), peak {peak:.0f} MiB")
        if non2xx or errors:
            FAILURES.append(f"{backend}: {non2xx} non-2xx, {errors} socket errors")
        if abs(growth) > 0.10:
            FAILURES.append(f"{backend}: RSS moved {growth:+.1%} after warm-up")
    finally:
        if server:
            server.terminate()
            server.wait(timeout=60)
        if drop:
            subprocess.run(["psql", PG_ADMIN, "-qc", f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)'],
                           capture_output=True)


def main():
    with tempfile.TemporaryDirectory(prefix="niemyet-soak-") as work:
        for backend in BACKENDS:
            soak(backend, work)
    if FAILURES:
        log("FAILURES:\n  " + "\n  ".join(FAILURES))
        sys.exit(1)


if __name__ == "__main__":
    main()
