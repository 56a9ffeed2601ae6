#!/usr/bin/env bash
# 60 s of mixed reads and writes at 64 connections on each backend (see scripts/soak.py):
# 0 errors, and resident memory at the end within 10% of after the warm-up.
#   scripts/soak.sh
#   SOAK_SECONDS=10 SOAK_WARMUP=5 SOAK_BACKENDS=sqlite scripts/soak.sh   # quick
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
cargo build --release --quiet
exec python3 scripts/soak.py
