#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs, builds the
# plugins and test guests to wasm, checks formatting and lints in every
# workspace, then runs every test. `.ci/run` calls exactly this.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf '\n== %s\n' "$*"; }

# Every test runner's output also goes to this log, so the run can end with
# one total over all the workspaces.
log="$(mktemp)"
# A private PostgreSQL cluster for the store's PostgreSQL backend, the
# multi-node tests and the second end-to-end pass; stopped on the way out.
pgdir="$(mktemp -d)"
cleanup() {
  tests/postgres.sh stop "$pgdir" >/dev/null 2>&1 || true
  rm -rf "$pgdir" "$log"
}
trap cleanup EXIT

step "toolchain: wasm32-wasip2 target, rustfmt, clippy"
if command -v rustup >/dev/null 2>&1; then
  rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
  rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed | grep -q '^clippy' || rustup component add clippy
fi

# Every cargo workspace of the repository: the host workspace, the
# first-party plugins, the end-to-end test guests and the plugin template.
workspaces=(. plugins tests/guests examples/mapper-template)

step "format"
for ws in "${workspaces[@]}"; do
  (cd "$ws" && cargo fmt --all -- --check)
done

step "build plugins and test guests (wasm32-wasip2)"
plugins/build.sh

step "clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
(cd plugins && cargo clippy --workspace --all-targets --quiet -- -D warnings)
(cd plugins && cargo clippy --workspace --target wasm32-wasip2 --quiet -- -D warnings)
(cd tests/guests && cargo clippy --workspace --target wasm32-wasip2 --quiet -- -D warnings)
(cd examples/mapper-template && cargo clippy --all-targets --quiet -- -D warnings)

step "SDK docs: every public item documented, no rustdoc warnings"
RUSTDOCFLAGS="-D warnings" cargo doc -p wasmhook-sdk -p wasmhook-sdk-macros --no-deps --quiet

step "PostgreSQL: a private cluster (Debian's postgresql package)"
WASMHOOK_TEST_DATABASE_URL="$(tests/postgres.sh start "$pgdir")"
export WASMHOOK_TEST_DATABASE_URL
echo "cluster at $WASMHOOK_TEST_DATABASE_URL"

step "plugin unit tests (native)"
(cd plugins && cargo test --workspace --quiet) 2>&1 | tee -a "$log"
(cd examples/mapper-template && cargo test --quiet) 2>&1 | tee -a "$log"

step "host, SDK and end-to-end tests"
cargo test --workspace --quiet 2>&1 | tee -a "$log"

step "end-to-end tests again, every server on PostgreSQL"
WASMHOOK_TEST_STORE=postgres cargo test -p wasmhook-tests --test e2e --quiet 2>&1 | tee -a "$log"

step "OpenAPI fuzzing (schemathesis): no 5xx, no undocumented status"
tests/openapi-fuzz.sh 20

awk '/^test result:/ { passed += $4; failed += $6 }
     END { printf "\ntests: %d passed, %d failed\n", passed, failed }' "$log"
