#!/usr/bin/env bash
# Fuzzes the service from its own OpenAPI spec with schemathesis (pinned), once per role, on a
# fresh SQLite database with the demo data; fails on any server error or any response that
# breaks the spec (status code, content type, headers, schema).
#   scripts/schemathesis.sh                    # 25 examples per operation and role
#   ST_EXAMPLES=10 scripts/schemathesis.sh     # what CI runs
set -euo pipefail
cd "$(dirname "$0")/.."
examples=${ST_EXAMPLES:-25}
venv=target/schemathesis-venv
if [ ! -x "$venv/bin/st" ]; then
    python3 -m venv "$venv"
    # hypothesis is pinned too: later releases break hypothesis-jsonschema 0.23.
    "$venv/bin/pip" install -q schemathesis==3.39.16 hypothesis==6.124.0
fi
cargo build --release --quiet
work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DATABASE_URL="$work/st.db"
# The fuzzer sends hundreds of requests a second from one address: rate limits off (they have
# their own test, tests/api/operations.rs).
NIEMYET_BIND="127.0.0.1:$port" NIEMYET_DEMO=true NIEMYET_RATE_PUBLIC=0 NIEMYET_RATE_TOKEN=0 \
    RUST_LOG=warn target/release/niemyet serve \
    > "$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port/health" > /dev/null && break
    sleep 0.2
done
failed=0
for role in "admin" "editor" "auditor" "auditor --unit 52" "officer --unit 23764"; do
    # shellcheck disable=SC2086
    token=$(target/release/niemyet token --role $role --ttl 2h)
    echo "== $role"
    # If-Match is given, not generated: schemathesis 3 puts control characters in header
    # values, which the HTTP parser refuses before the application sees them.
    PYTHONPATH=scripts SCHEMATHESIS_HOOKS=schemathesis_hooks "$venv/bin/st" run \
        "http://127.0.0.1:$port/openapi.json" --base-url "http://127.0.0.1:$port" \
        -H "Authorization: Bearer $token" -H "If-Match: *" \
        --checks all --data-generation-method all --hypothesis-max-examples "$examples" \
        --hypothesis-seed 1 --hypothesis-database none --experimental=openapi-3.1 \
        --experimental-no-failfast --code-sample-style curl || failed=1
done
if grep -qi "panicked" "$work/serve.log"; then
    echo "the server panicked:"; grep -i -A3 "panicked" "$work/serve.log"; failed=1
fi
exit $failed
