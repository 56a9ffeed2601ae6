#!/usr/bin/env python3
"""Crash safety: kills `niemyet` with SIGKILL in the middle of a catalogue import and of a bulk
posting load, on each backend, then checks that nothing half-written is visible, that the
database is intact (SQLite's integrity_check; PostgreSQL's indexes and constraints all present
and valid), and that running the same command again completes.

Run it through scripts/crash-check.sh (which builds the release binary). Environment:
  CRASH_ROWS       posting rows in the load (default 1000000)

Each command is first run to completion on a copy of the database, to learn how long it takes
(and, for the load, how long each phase takes); the kills then land half-way through writing and
half-way through the index builds, inside the command's one transaction.
  CRASH_BACKENDS   sqlite,postgres (default both)
  CRASH_PG_ADMIN   PostgreSQL URL to create scratch databases from
                   (default postgres://postgres@127.0.0.1:5432/test)
"""

import contextlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("CRASH_BIN", os.path.join(ROOT, "target/release/niemyet"))
ROWS = int(os.environ.get("CRASH_ROWS", "1000000"))
BACKENDS = os.environ.get("CRASH_BACKENDS", "sqlite,postgres").split(",")
PG_ADMIN = os.environ.get("CRASH_PG_ADMIN", "postgres://postgres@127.0.0.1:5432/test")
CATALOGUE = os.path.join(ROOT, "data/dvcqg-catalogue-2026-06.jsonl.gz")
UNITS = os.path.join(ROOT, "data/admin-units-2025.csv")
FAILURES = []
CHECKS = 0


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def check(ok, what):
    global CHECKS
    CHECKS += 1
    if not ok:
        FAILURES.append(what)
        log(f"    FAILED: {what}")


def env_for(url):
    env = dict(os.environ, DATABASE_URL=url, NIEMYET_DEMO="false", NIEMYET_SEED="false",
               NIEMYET_RATE_PUBLIC="0", NIEMYET_RATE_TOKEN="0", RUST_LOG="warn")
    env.pop("RUST_BACKTRACE", None)
    return env


def run(args, url):
    done = subprocess.run([BIN, *args], env=env_for(url), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr}")
    return done.stderr.strip().splitlines()


def killed_at(args, url, seconds):
    """Starts the command and SIGKILLs it after `seconds`; True if it was still running."""
    proc = subprocess.Popen([BIN, *args], env=env_for(url), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


class Db:
    def __init__(self, backend, work, name):
        self.backend = backend
        if backend == "sqlite":
            self.url = os.path.join(work, f"{name}.db")
        else:
            self.name = f"niemyet_crash_{name}_{os.getpid()}"
            subprocess.run(["psql", PG_ADMIN, "-qc", f'DROP DATABASE IF EXISTS "{self.name}"'],
                           check=True, capture_output=True)
            subprocess.run(["psql", PG_ADMIN, "-qc", f'CREATE DATABASE "{self.name}"'], check=True)
            self.url = PG_ADMIN.rsplit("/", 1)[0] + "/" + self.name

    def scalar(self, sql):
        if self.backend == "sqlite":
            with contextlib.closing(sqlite3.connect(self.url)) as db:
                row = db.execute(sql).fetchone()
                return row[0] if row else None
        out = subprocess.run(["psql", self.url, "-Atc", sql], check=True, capture_output=True,
                             text=True)
        return out.stdout.strip()

    def counts(self):
        return {t: int(self.scalar(f"SELECT count(*) FROM {t}"))
                for t in ["postings", "procedures", "procedure_versions", "decisions",
                          "audit_log", "revisions"]}

    def intact(self, what):
        """The database is consistent and the postings table has all its indexes."""
        if self.backend == "sqlite":
            check(self.scalar("PRAGMA integrity_check") == "ok", f"{what}: integrity_check")
            check(self.scalar("PRAGMA foreign_key_check") is None, f"{what}: foreign keys")
            indexes = self.scalar("SELECT group_concat(name) FROM (SELECT name FROM sqlite_master "
                                  "WHERE type = 'index' AND tbl_name = 'postings' ORDER BY name)")
            check(indexes == "postings_current_idx,postings_unit_idx,sqlite_autoindex_postings_1",
                  f"{what}: postings indexes are {indexes}")
        else:
            indexes = self.scalar("SELECT string_agg(indexrelid::regclass::text, ',' "
                                  "ORDER BY indexrelid::regclass::text) "
                                  "FROM pg_index WHERE indrelid = 'postings'::regclass "
                                  "AND indisvalid AND indisready")
            check(indexes == "postings_current_idx,postings_pkey,postings_unit_idx",
                  f"{what}: valid postings indexes are {indexes}")
            fks = self.scalar("SELECT count(*) FROM pg_constraint WHERE conrelid = "
                              "'postings'::regclass AND contype = 'f' AND convalidated")
            check(fks == "1", f"{what}: postings foreign key present and validated")
            # Every row is readable through the indexes as through the table.
            check(self.scalar("SELECT count(*) FROM postings") ==
                  self.scalar("SET enable_seqscan = off; SELECT count(*) FROM postings "
                              "WHERE unit_code > ''").splitlines()[-1],
                  f"{what}: index and table agree")

    def copy(self, work, name):
        """A copy of this database, to run a command to completion on."""
        other = Db.__new__(Db)
        other.backend = self.backend
        if self.backend == "sqlite":
            other.url = os.path.join(work, f"{name}.db")
            shutil.copy(self.url, other.url)
        else:
            other.name = f"{self.name}_{name}"
            subprocess.run(["psql", PG_ADMIN, "-qc", f'DROP DATABASE IF EXISTS "{other.name}"'],
                           check=True, capture_output=True)
            subprocess.run(["psql", PG_ADMIN, "-qc",
                            f'CREATE DATABASE "{other.name}" TEMPLATE "{self.name}"'], check=True)
            other.url = PG_ADMIN.rsplit("/", 1)[0] + "/" + other.name
        return other

    def drop(self):
        if self.backend == "postgres":
            subprocess.run(["psql", PG_ADMIN, "-qc",
                            f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'],
                           capture_output=True)


def kill_and_check(db, args, at, before, work):
    """Kills `args` at `at` seconds on `db` and checks all or nothing is there. When the command
    had already committed (timings vary from run to run), `db` is put back as it was."""
    pristine = db.copy(work, "pristine")
    try:
        if not killed_at(args, db.url, at):
            outcome = "it had already finished"
        else:
            after = db.counts()
            db.intact(f"{args[0]} killed at {at:.1f}s")
            if after == before:
                return "nothing written, database intact"
            outcome = "it had already committed"
            check(after["audit_log"] == before["audit_log"] + 1,
                  f"{args[0]} killed at {at:.1f}s: neither nothing nor everything: {after}")
        # Put the database back for the next kill.
        db.drop()
        if db.backend == "sqlite":
            shutil.copy(pristine.url, db.url)
            for suffix in ["-wal", "-shm"]:
                if os.path.exists(db.url + suffix):
                    os.remove(db.url + suffix)
        else:
            subprocess.run(["psql", PG_ADMIN, "-qc",
                            f'CREATE DATABASE "{db.name}" TEMPLATE "{pristine.name}"'], check=True)
        return outcome + " (all of it visible, database intact); put back"
    finally:
        pristine.drop()


def catalogue_import(backend, work):
    log(f"[{backend}] catalogue import")
    db = Db(backend, work, "catalogue")
    try:
        run(["migrate"], db.url)
        run(["import-units", UNITS], db.url)
        before = db.counts()
        scratch = db.copy(work, "catalogue_scratch")
        started = time.perf_counter()
        run(["import-catalogue", CATALOGUE], scratch.url)
        full = time.perf_counter() - started
        scratch.drop()
        log(f"  a whole import takes {full:.2f}s")
        for fraction in [0.4, 0.65]:
            at = full * fraction
            outcome = kill_and_check(db, ["import-catalogue", CATALOGUE], at, before, work)
            log(f"  killed at {at:.2f}s: {outcome}")
        run(["import-catalogue", CATALOGUE], db.url)
        after = db.counts()
        check(after["procedures"] > 2000, f"the import completes afterwards: {after}")
        log(f"  then the import completes: {after['procedures']} procedures")
    finally:
        db.drop()


def bulk_load(backend, work):
    log(f"[{backend}] bulk load of {ROWS:,} postings")
    db = Db(backend, work, "load")
    try:
        run(["migrate"], db.url)
        run(["import-units", UNITS], db.url)
        run(["import-catalogue", CATALOGUE], db.url)
        full = os.path.join(work, f"all-{backend}.csv")
        run(["generate", "--out", full], db.url)
        csv = os.path.join(work, f"rows-{backend}.csv")
        with open(full) as src, open(csv, "w") as dst:
            for i, line in enumerate(src):
                if i > ROWS:
                    break
                dst.write(line)
        before = db.counts()
        scratch = db.copy(work, "load_scratch")
        started = time.perf_counter()
        timing = run(["load-postings", csv, "--no-summaries"], scratch.url)[-1]
        full = time.perf_counter() - started
        scratch.drop()
        log(f"  a whole load takes {full:.1f}s: {timing}")
        phase = {k: float(v) for k, v in re.findall(r"(parsing|writing|indexes) ([\d.]+)s", timing)}
        # Process start and reading the file come before the writing; the phases follow.
        parsed = full - phase["writing"] - phase["indexes"] - float(
            re.search(r"commit ([\d.]+)s", timing).group(1))
        kills = [("a third of the way through writing", parsed + phase["writing"] / 3),
                 ("as the index builds begin",
                  parsed + phase["writing"] + phase["indexes"] / 5)]
        for what, at in kills:
            outcome = kill_and_check(db, ["load-postings", csv, "--no-summaries"], at, before,
                                     work)
            log(f"  killed at {at:.1f}s ({what}): {outcome}")
        lines = run(["load-postings", csv, "--no-summaries"], db.url)
        after = db.counts()
        check(after["postings"] == before["postings"] + ROWS,
              f"the load completes afterwards: {after['postings']} postings")
        db.intact("after the completed load")
        log(f"  then the load completes: {lines[-1]}")
    finally:
        db.drop()


def main():
    with tempfile.TemporaryDirectory(prefix="niemyet-crash-") as work:
        for backend in BACKENDS:
            catalogue_import(backend, work)
            bulk_load(backend, work)
    log(f"{CHECKS} checks, {len(FAILURES)} failed")
    if FAILURES:
        log("FAILURES:\n  " + "\n  ".join(FAILURES))
        sys.exit(1)


if __name__ == "__main__":
    main()
