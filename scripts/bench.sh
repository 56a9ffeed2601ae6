#!/usr/bin/env bash
# The national-scale benchmark (see scripts/bench.py for its settings): builds the release
# binary, installs wrk if it is missing, then generates, loads and measures on each backend.
#   scripts/bench.sh                        # the whole country, writes BENCHMARKS.md
#   BENCH_PROVINCES=77 BENCH_DURATION=2 scripts/bench.sh   # a quick smoke run (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --quiet
exec python3 scripts/bench.py
