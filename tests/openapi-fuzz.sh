#!/usr/bin/env bash
# Fuzzes the running server against its own OpenAPI document with
# schemathesis (from PyPI, pinned): no answer may be a server error (5xx)
# or a status the document does not list. Starts the test build of the
# server (`target/debug/wasmhook-e2e`, built by `cargo test`) on a free
# loopback port with a temporary data dir and the first-party plugins,
# and stops it afterwards. Bounded: a fixed number of examples per
# operation and a seed, so a run is repeatable.
#
#   tests/openapi-fuzz.sh [examples per operation, default 25]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
examples="${1:-25}"
server="${WASMHOOK_BIN:-$root/target/debug/wasmhook-e2e}"
[ -x "$server" ] || { echo "openapi-fuzz: $server is missing; run cargo test first" >&2; exit 1; }

venv="$root/target/schemathesis-venv"
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "openapi-fuzz: installing schemathesis into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==4.32.5"
fi

work="$(mktemp -d)"
token="openapi-fuzz-admin-token-0123456789"
"$server" serve --listen 127.0.0.1:0 --data-dir "$work/data" --admin-token "$token" \
  --plugins-dir "$root/plugins/dist" 2>"$work/server.log" &
pid=$!
cleanup() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

address=""
for _ in $(seq 1 600); do
  address="$(sed -n 's/^wasmhook: listening on \(http:[^ ]*\).*/\1/p' "$work/server.log")"
  [ -n "$address" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$address" ] || { echo "openapi-fuzz: the server did not start" >&2; cat "$work/server.log" >&2; exit 1; }

echo "openapi-fuzz: $address, $examples examples per operation" >&2
"$venv/bin/schemathesis" run "$address/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "$examples" --seed 1 --no-shrink --workers 2 \
  --request-timeout 40 --warnings off \
  --exclude-name "PUT /v1/plugins/{name}"
# (Plugin uploads are `application/wasm`, which schemathesis cannot generate;
# the upload's refusals are tested with real and broken components in the
# end-to-end suite.)
