#!/usr/bin/env python3
"""Search quality over HTTP: runs the judged query set (tests/search/queries.tsv) against the
service and prints hit@1, MRR (over the first 10), recall@10 and the zero-result rate per kind.

    scripts/search_eval.py                      # starts target/release/niemyet on a scratch SQLite
    SEARCH_URL=http://127.0.0.1:8080 scripts/search_eval.py   # against a running service

A query is right when its first result is one of the expected codes (any code beginning a
`code_prefix` query is right). For `no_answer` queries (procedures the catalogue does not hold),
the table gives how many still returned something, and how many of those the service marked as a
weak match (`some_words`).
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUERIES = os.path.join(ROOT, "tests", "search", "queries.tsv")
BIN = os.environ.get("SEARCH_BIN", os.path.join(ROOT, "target/release/niemyet"))


def get(base, q, extra):
    url = f"{base}/api/v1/procedures?limit=10&q={urllib.parse.quote(q)}"
    if extra:
        url += "&" + extra
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())["items"]


def evaluate(base):
    rows = []
    with open(QUERIES, encoding="utf-8") as f:
        next(f)
        for line in f:
            kind, q, expected, filt, *_ = line.rstrip("\n").split("\t") + ["", ""]
            rows.append((kind, q, [e for e in expected.split("|") if e], filt))
    stats = defaultdict(lambda: {"n": 0, "hit": 0, "rr": 0.0, "recall": 0, "zero": 0, "weak": 0})
    misses = []
    started = time.monotonic()
    for kind, q, expected, filt in rows:
        items = get(base, q, filt)
        codes = [i["code"] for i in items]
        s = stats[kind]
        s["n"] += 1
        if not expected:
            s["zero"] += 0 if codes else 1
            s["weak"] += 1 if items and items[0]["match"] == "some_words" else 0
            continue
        right = [i for i, c in enumerate(codes)
                 if c in expected or (kind == "code_prefix" and c.startswith(q.strip()))]
        rank = right[0] if right else None
        s["hit"] += 1 if rank == 0 else 0
        s["rr"] += 1 / (rank + 1) if rank is not None else 0
        s["recall"] += 1 if rank is not None else 0
        s["zero"] += 0 if codes else 1
        if rank != 0:
            misses.append(f"{kind}\t{q}\texpected {'|'.join(expected)}\tgot {codes[:3]}")
    took = time.monotonic() - started
    print("| kind | queries | hit@1 | MRR | recall@10 | zero results |")
    print("|---|---:|---:|---:|---:|---:|")
    total = {"n": 0, "hit": 0, "rr": 0.0, "recall": 0, "zero": 0}
    for kind in sorted(stats):
        s = stats[kind]
        if kind == "no_answer":
            continue
        print(f"| {kind} | {s['n']} | {s['hit'] / s['n']:.2f} | {s['rr'] / s['n']:.2f} | "
              f"{s['recall'] / s['n']:.2f} | {s['zero']} |")
        for k in total:
            total[k] += s[k]
    n = total["n"]
    print(f"| **all with an answer** | {n} | {total['hit'] / n:.3f} | {total['rr'] / n:.3f} | "
          f"{total['recall'] / n:.3f} | {total['zero']} ({total['zero'] / n:.1%}) |")
    if "no_answer" in stats:
        s = stats["no_answer"]
        answered = s["n"] - s["zero"]
        print(f"\nno_answer: {s['n']} queries, {answered} returned something, "
              f"{s['weak']} of them marked some_words")
    print(f"\n{len(rows)} queries in {took:.2f} s over HTTP")
    if misses:
        print("\nnot first:")
        for m in misses:
            print("  " + m)


def main():
    base = os.environ.get("SEARCH_URL")
    if base:
        evaluate(base.rstrip("/"))
        return
    with tempfile.TemporaryDirectory() as work, socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        env = dict(os.environ, DATABASE_URL=os.path.join(work, "search.db"),
                   NIEMYET_BIND=f"127.0.0.1:{port}", NIEMYET_DEMO="false",
                   NIEMYET_RATE_PUBLIC="0", RUST_LOG="warn")
        server = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    urllib.request.urlopen(base + "/ready", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            evaluate(base)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
