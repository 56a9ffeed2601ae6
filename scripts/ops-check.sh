#!/usr/bin/env bash
# Operations check (scripts/ops_check.py) against the release build: heavy reports, imports,
# rate limits and metrics, on SQLite and PostgreSQL. OPS_QUICK=1 for the short form CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin niemyet
exec python3 scripts/ops_check.py
