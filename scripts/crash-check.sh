#!/usr/bin/env bash
# Crash safety (see scripts/crash_check.py for its settings): builds the release binary, then
# kills catalogue imports and bulk loads mid-way on each backend and checks what is left.
#   scripts/crash-check.sh
#   CRASH_ROWS=100000 CRASH_KILLS=1 CRASH_BACKENDS=sqlite scripts/crash-check.sh   # quick
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
exec python3 scripts/crash_check.py
