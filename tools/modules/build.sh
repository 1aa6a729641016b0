#!/usr/bin/env bash
# Builds every sample agent package under tools/modules/<name>/ from its C sources with clang's
# wasm32-wasi target and Debian's wasi-libc: build/<name>.wasm, with a declared memory maximum
# equal to the manifest's runtime.resources.memory_mb (the module host refuses anything larger).
#   --if-needed   only rebuild packages whose sources are newer than their module
# Installs the toolchain (clang, lld, wasi-libc, compiler-rt for wasm32) with apt when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if_needed=false
[ "${1:-}" = "--if-needed" ] && if_needed=true

toolchain_works() {
  echo 'int main(void){return 0;}' | clang --target=wasm32-wasi -x c -o /dev/null - >/dev/null 2>&1
}
if ! command -v clang >/dev/null 2>&1 || ! toolchain_works; then
  echo "[modules] installing the wasm32-wasi toolchain with apt"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends clang lld wasi-libc libclang-rt-dev-wasm32 >/dev/null
  toolchain_works || { echo "[modules] clang cannot target wasm32-wasi" >&2; exit 1; }
fi

for dir in */; do
  name="${dir%/}"
  [ -f "$name/aion.yaml" ] || continue
  out="$name/build/$name.wasm"
  if $if_needed && [ -f "$out" ] && [ -z "$(find "$name/src" common "$name/aion.yaml" -newer "$out" -print -quit)" ]; then
    continue
  fi
  memory_mb="$(awk '/memory_mb:/ {print $2; exit}' "$name/aion.yaml")"
  mkdir -p "$name/build"
  clang --target=wasm32-wasi -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
    -Wl,--max-memory=$((memory_mb * 1024 * 1024)) -Wl,-z,stack-size=262144 \
    -o "$out" "$name"/src/*.c common/aion_module.c -lm
  echo "[modules] built $out ($(wc -c < "$out") bytes, max memory ${memory_mb} MiB)"
done
