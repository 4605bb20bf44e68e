#!/usr/bin/env bash
# Builds every first-party plugin (and the end-to-end test guests) into
# WebAssembly components and copies them to plugins/dist/<name>.wasm.
#
#   plugins/build.sh            build plugins and test guests
#   plugins/build.sh --plugins  build the first-party plugins only
#
# Needs the wasm32-wasip2 target (`rustup target add wasm32-wasip2`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target=wasm32-wasip2

if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$target"; then
  echo "installing the $target target" >&2
  rustup target add "$target" >&2
fi

# A cargo invoked from a test binary or build script must not inherit the
# outer build's target directory.
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET

build() { # <workspace dir> <dist dir>
  local dir="$1" dist="$2"
  echo "building $(basename "$dir") to wasm (the first build takes 2-3 minutes; cargo shows each crate)" >&2
  (cd "$dir" && cargo build --release --target "$target" --workspace)
  mkdir -p "$dist"
  local wasm
  for wasm in "$dir/target/$target/release/"*.wasm; do
    [ -e "$wasm" ] || continue
    # Cargo names artefacts with underscores; plugins are known by their
    # crate names (gupshup, meta-whatsapp, json-renderer, ...).
    local name
    name="$(basename "$wasm" .wasm | tr '_' '-')"
    cp -p "$wasm" "$dist/$name.wasm"
    printf '  %-28s %6d KiB\n' "${dist#"$root"/}/$name.wasm" "$(( $(stat -c %s "$wasm") / 1024 ))" >&2
  done
}

build "$root/plugins" "$root/plugins/dist"
if [ "${1:-}" != "--plugins" ]; then
  build "$root/tests/guests" "$root/tests/guests/dist"
fi
