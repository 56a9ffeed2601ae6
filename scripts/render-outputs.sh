#!/usr/bin/env bash
# Renders the people-facing outputs as a person would see them: downloads the demo's commune,
# province and national workbooks, the impact of its amendment on Hà Nội, CSVs and a commune's
# posting sheet from a throwaway server, prints each
# workbook to PDF with LibreOffice and the posting sheet with headless Chromium, and each PDF page
# to PNG, so that they can be looked at before a change ships.
#
# Needs LibreOffice Calc, poppler and Chromium (Debian: apt-get install libreoffice-calc
# poppler-utils chromium); not part of CI. Usage: scripts/render-outputs.sh [OUT_DIR]
# (default target/rendered)
set -euo pipefail

cd "$(dirname "$0")/.."
out=${1:-target/rendered}
mkdir -p "$out"
out=$(cd "$out" && pwd)
port=${RENDER_PORT:-18765}
as_of=${RENDER_AS_OF:-2026-11-30}

cargo build -q
bin=$(mktemp -d)/niemyet
cp "${CARGO_TARGET_DIR:-target}/debug/niemyet" "$bin"
db=$(mktemp -d)/demo.db
export DATABASE_URL=$db NIEMYET_BIND=127.0.0.1:$port NIEMYET_DEMO=true
"$bin" >"$out/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 120); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
    sleep 1
done

get() { # TOKEN PATH FILE
    curl -sf -H "Authorization: Bearer $1" -o "$out/$3" "http://127.0.0.1:$port/api/v1/$2"
}
officer=$("$bin" token --role officer --unit 10273)
auditor=$("$bin" token --role auditor --unit 01)
get "$officer" "communes/10273/report?as_of=$as_of&format=xlsx" commune-10273.xlsx
get "$officer" "communes/10273/report?as_of=$as_of&format=xlsx&lang=en" commune-10273-en.xlsx
get "$officer" "communes/10273/report?as_of=$as_of&format=csv" commune-10273.csv
get "$auditor" "provinces/01/report?as_of=$as_of&format=xlsx" province-01.xlsx
get "$auditor" "provinces/01/report?as_of=$as_of&format=csv" province-01.csv
national=$("$bin" token --role auditor)
get "$national" "reports/national?as_of=$as_of&format=xlsx" national.xlsx
# The demo's amendment (2468/QĐ-BTP, in force from 2026-10-01) as Hà Nội's auditor sees it.
decision=$(curl -sf --get --data-urlencode "number=2468/QĐ-BTP" \
    "http://127.0.0.1:$port/api/v1/decisions" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["items"][0]["id"])')
get "$auditor" "decisions/$decision/impact?as_of=$as_of&format=xlsx" impact-01.xlsx
get "$officer" "communes/10273/posting-sheet?as_of=$as_of" posting-sheet-10273.html
get "$officer" "communes/10273/posting-list?as_of=$as_of" posting-list-10273.json

cd "$out"
for book in *.xlsx; do
    soffice --headless --convert-to pdf "$book" >/dev/null 2>&1
    rm -f "${book%.xlsx}"-*.png
    pdftoppm -png -r 60 "${book%.xlsx}.pdf" "${book%.xlsx}"
    echo "$book: $(pdfinfo "${book%.xlsx}.pdf" | awk '/^Pages/ {print $2}') pages," \
        "$(pdfinfo "${book%.xlsx}.pdf" | awk -F': *' '/^Page size/ {print $2}')"
done
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -n "$chrome" ]; then
    "$chrome" --headless --no-sandbox --disable-gpu --no-pdf-header-footer \
        --print-to-pdf="$out/posting-sheet-10273.pdf" "file://$out/posting-sheet-10273.html" \
        >/dev/null 2>&1
    rm -f posting-sheet-10273-*.png
    pdftoppm -png -r 60 posting-sheet-10273.pdf posting-sheet-10273
    echo "posting-sheet-10273.html: $(pdfinfo posting-sheet-10273.pdf | awk '/^Pages/ {print $2}')" \
        "pages, $(pdfinfo posting-sheet-10273.pdf | awk -F': *' '/^Page size/ {print $2}')"
    # Do the printed QR codes open the right pages? Read page 1 back as a phone would.
    if command -v zbarimg >/dev/null; then
        pdftoppm -png -r 200 -f 1 -l 1 posting-sheet-10273.pdf qr-check
        zbarimg -q --raw qr-check-*.png 2>/dev/null >qr-decoded.txt || true
        python3 - <<'PY'
import json
urls = [i.get("source_url") for s in json.load(open("posting-list-10273.json"))["sectors"]
        for i in s["items"]]
decoded = open("qr-decoded.txt").read().split()
first = urls[: len(decoded)]
ok = sorted(decoded) == sorted(first)
print(f"page 1 of the posting sheet: {len(decoded)} QR codes decoded,",
      "each the URL of a procedure on the page" if ok else f"MISMATCH {decoded} vs {first}")
PY
        rm -f qr-check-*.png
    fi
else
    echo "no Chromium: the posting sheet is not printed" >&2
fi
# What a spreadsheet makes of the CSV opened as is (LibreOffice's defaults, UTF-8).
for csv in *.csv; do
    soffice --headless --infilter="CSV:44,34,76,1" --convert-to xlsx --outdir csv-opened "$csv" \
        >/dev/null 2>&1 || true
done
echo "rendered into $out"
