#!/usr/bin/env bash
# Measures importing the bundled 2,642-record catalogue into a fresh database, on SQLite and on
# PostgreSQL: wall time and peak RSS of `niemyet import-catalogue`, RUNS times each, with medians.
#
#   scripts/import-bench.sh                 # 5 runs per backend
#   RUNS=3 PG_URL=postgres://postgres@127.0.0.1:5432/test scripts/import-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
export PGOPTIONS="--client-min-messages=warning"
BIN=target/release/niemyet
CATALOGUE=data/dvcqg-catalogue-2026-06.jsonl.gz
cargo build --release --quiet --bin niemyet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

measure() { # $1 = DATABASE_URL; prints "seconds kib"
    DATABASE_URL="$1" "$BIN" import-units data/admin-units-2025.csv 2>/dev/null
    DATABASE_URL="$1" /usr/bin/time -f '%e %M' -o "$work/time" "$BIN" import-catalogue "$CATALOGUE" 2>"$work/log"
    grep -q '2642 created' "$work/log" || { cat "$work/log" >&2; exit 1; }
    cat "$work/time"
}

pg_db() { # $1 = database name; recreates it and prints its URL
    local admin="$PG_URL"
    psql "$admin" -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null
    psql "$admin" -qc "CREATE DATABASE $1" >/dev/null
    echo "${admin%/*}/$1"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u +%F)"
for backend in sqlite postgres; do
    : >"$work/results"
    for i in $(seq 1 "$RUNS"); do
        if [ "$backend" = sqlite ]; then
            url="$work/run-$i.db"
        else
            url=$(pg_db "niemyet_import_bench")
        fi
        measure "$url" >>"$work/results"
    done
    if [ "$backend" = postgres ]; then psql "$PG_URL" -qc "DROP DATABASE IF EXISTS niemyet_import_bench WITH (FORCE)" >/dev/null; fi
    secs=$(cut -d' ' -f1 "$work/results" | median)
    rss=$(cut -d' ' -f2 "$work/results" | median)
    printf '%-8s runs=%s  median %.2f s  (all: %s)  median peak RSS %d MiB\n' \
        "$backend" "$RUNS" "$secs" "$(cut -d' ' -f1 "$work/results" | tr '\n' ' ')" "$((${rss%.*} / 1024))"
done
