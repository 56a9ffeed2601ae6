#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ for a bounded time each, on the stable toolchain. Without a
# nightly compiler there are no sanitizers (`--sanitizer none`); the code forbids `unsafe`, so what
# the fuzzer looks for is panics (failed assertions included), hangs and runaway memory.
#
#   scripts/fuzz.sh                        # every target, 60 s each
#   FUZZ_SECS=600 scripts/fuzz.sh codes    # one target, 10 minutes
#
# Seeds come from the bundled data; the corpus grows in fuzz/corpus/<target> (not committed), and
# a crashing input lands in fuzz/artifacts/<target>, to be fixed and kept as a unit test.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${FUZZ_SECS:-60}
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(codes catalogue_record postings_csv)

seed() { # $1 = target
    local dir="fuzz/corpus/$1" i=0
    mkdir -p "$dir"
    case "$1" in
    codes)
        for s in 1.001193 1.001612.000.00.00.H48 2.000100 23764 79 163/QĐ-BTP 19/2025/QĐ-TTg \
            "QĐ/0001-BTP" "1523/QĐ-BCA-C06" "  163 / qđ-btp "; do
            printf '%s' "$s" >"$dir/seed-$((i++))"
        done
        ;;
    catalogue_record)
        # zcat stops early on purpose once head has its lines.
        { zcat data/dvcqg-catalogue-2026-06.jsonl.gz || true; } | head -40 | while IFS= read -r line; do
            printf '%s\n' "$line" >"$dir/seed-$((i++))"
        done
        ;;
    postings_csv)
        printf '%s\n' "unit_code,procedure_code,channel,decision_number,posted_on" \
            "23764,1.001193,counter,163/QĐ-BTP,2025-07-03" \
            "10441,1.004222,portal,1523/QĐ-BCA-C06,2025-07-04" >"$dir/seed-0"
        printf '%s\n' "unit_code,procedure_code,channel,decision_number,posted_on,evidence_url,note" \
            '23764,1.001193,counter,"163/QĐ-BTP",2025-07-03,https://example.vn/a,"Bảng ""A"""' \
            "23764,1.001193,counter,163/QĐ-BTP,2025-02-30,," >"$dir/seed-1"
        ;;
    esac
}

for t in "${targets[@]}"; do
    seed "$t"
    echo "== $t: ${SECS}s"
    log="fuzz/target/$t.log"
    mkdir -p fuzz/target
    if ! (cd fuzz && cargo fuzz run --sanitizer none --release "$t" -- \
        -max_total_time="$SECS" -rss_limit_mb=2048 -max_len=65536 -timeout=10) >"$log" 2>&1; then
        tail -40 "$log"
        echo "== $t FAILED: the input is in fuzz/artifacts/$t" >&2
        exit 1
    fi
    grep -E "^#[0-9]+ +DONE|^Done [0-9]+ runs" "$log" | tail -2
done
