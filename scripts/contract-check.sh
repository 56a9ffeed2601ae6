#!/usr/bin/env bash
# The spec as a client generator sees it: validates the committed openapi/openapi.json, generates
# a Python client (openapi-python-client) and a TypeScript client (openapi-generator,
# typescript-fetch) with pinned versions and fails on any warning, compiles the TypeScript, then
# drives a live server with the generated Python client (scripts/contract_check.py): every
# operation, with valid and invalid input, and every answer must parse into its declared type.
#   scripts/contract-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
spec=openapi/openapi.json
venv=target/contract-venv
if [ ! -x "$venv/bin/openapi-python-client" ] || [ ! -x "$venv/bin/openapi-generator-cli" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q openapi-spec-validator==0.7.1 openapi-python-client==0.29.1 \
        openapi-generator-cli==7.26.0
fi
if ! command -v java >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq default-jre-headless
fi
work=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT

echo "== openapi-spec-validator"
"$venv/bin/openapi-spec-validator" "$spec"

echo "== openapi-python-client $("$venv/bin/pip" show openapi-python-client | sed -n 's/^Version: //p')"
# The generator knows JSON, text and octet-stream only: NDJSON and gzip bodies are bytes, and
# the metrics text is text, as an integrator would tell it. No post hooks (ruff is not needed).
cat > "$work/python-client.yaml" <<'YAML'
project_name_override: niemyet-client
package_name_override: niemyet_client
post_hooks: []
content_type_overrides:
  application/x-ndjson: application/octet-stream
  application/gzip: application/octet-stream
  application/openmetrics-text: text/plain
YAML
(cd "$work" && "$OLDPWD/$venv/bin/openapi-python-client" generate --path "$OLDPWD/$spec" \
    --config python-client.yaml --meta none --output-path niemyet_client) > "$work/python.log" 2>&1 \
    || { cat "$work/python.log"; exit 1; }
if grep -qiE "warning|error|unable|skipp" "$work/python.log"; then
    cat "$work/python.log"; echo "openapi-python-client warned" >&2; exit 1
fi

echo "== openapi-generator $("$venv/bin/openapi-generator-cli" version 2>/dev/null | tail -1) (typescript-fetch)"
"$venv/bin/openapi-generator-cli" generate -i "$spec" -g typescript-fetch -o "$work/ts" \
    > "$work/ts.log" 2>&1 || { cat "$work/ts.log"; exit 1; }
# The one notice every 3.1 document gets ("OpenAPI 3.1 support is still in beta") is no warning
# about this one.
if grep -E "\[main\] (WARN|ERROR)" "$work/ts.log" | grep -v "3.1 support is still in beta"; then
    echo "openapi-generator warned" >&2; exit 1
fi
if command -v npx >/dev/null; then
    echo "== tsc --noEmit (the generated TypeScript client)"
    (cd "$work/ts" && timeout 120 npx -y -p typescript@5 tsc --noEmit --strict --target es2020 \
        --lib es2020,dom --moduleResolution node index.ts)
fi

echo "== the generated Python client against a live server"
cargo build --quiet --bin niemyet
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATABASE_URL="$work/contract.db" NIEMYET_BIND="127.0.0.1:$port" NIEMYET_DEMO=true NIEMYET_WEBHOOKS_ALLOW_PRIVATE=true \
    NIEMYET_RATE_PUBLIC=0 NIEMYET_RATE_TOKEN=0 RUST_LOG=warn target/debug/niemyet serve \
    > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port/health" > /dev/null && break
    sleep 0.2
done
token() { DATABASE_URL="$work/contract.db" target/debug/niemyet token --ttl 1h --role "$@"; }
CONTRACT_URL="http://127.0.0.1:$port" CONTRACT_DB="$work/contract.db" \
    CONTRACT_ADMIN=$(token admin) CONTRACT_EDITOR=$(token editor) \
    CONTRACT_AUDITOR=$(token auditor --unit 52) CONTRACT_OFFICER=$(token officer --unit 23764) \
    PYTHONPATH="$work" "$venv/bin/python" scripts/contract_check.py "$spec"
if grep -qi "panicked" "$work/serve.log"; then
    echo "the server panicked:"; grep -i -A3 "panicked" "$work/serve.log"; exit 1
fi
