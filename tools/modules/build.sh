#!/usr/bin/env bash
# Builds every sample agent package under tools/modules/<name>/ from its C sources with clang's
# wasm32-wasi target and Debian's wasi-libc: build/<name>.wasm, with a declared memory maximum
# equal to the manifest's runtime.resources.memory_mb (the module host refuses anything larger).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
for dir in */; do
  name="${dir%/}"
  [ -f "$name/aion.yaml" ] || continue
  memory_mb="$(awk '/memory_mb:/ {print $2; exit}' "$name/aion.yaml")"
  mkdir -p "$name/build"
  clang --target=wasm32-wasi -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
    -Wl,--max-memory=$((memory_mb * 1024 * 1024)) -Wl,-z,stack-size=262144 \
    -o "$name/build/$name.wasm" "$name"/src/*.c common/aion_module.c -lm
  echo "built $name/build/$name.wasm ($(wc -c < "$name/build/$name.wasm") bytes, max memory ${memory_mb} MiB)"
done
