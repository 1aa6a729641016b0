#!/usr/bin/env bash
# Builds every sample agent package under tools/modules/<name>/ from its C sources with clang's
# wasm32-wasi target and Debian's wasi-libc: build/<name>.wasm, with a declared memory maximum
# equal to the manifest's memory limit (the module host refuses anything larger).
#
# The modules are committed, so `npm start` needs no compiler. This script is for whoever changes
# their sources (`npm run build:modules`, then commit the .wasm files) and for CI, which checks
# that the committed bytes are exactly a fresh build:
#   (no option)   rebuild every module in place
#   --check       build into a temporary directory; fail if any byte differs from the committed file
#   --if-needed   build only modules that are missing; never writes over an existing file
#
# The build is reproducible: fixed flags, no debug information, no build paths. The same
# toolchain gives the same bytes; the committed modules come from Debian 12's clang 14, lld 14 and
# wasi-libc, and another toolchain builds working modules with other bytes (which --check reports).
# When a build is needed and the toolchain is missing, installs it with apt (Debian/Ubuntu).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

mode=build
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  --if-needed) mode=if-needed ;;
  *) echo "usage: $0 [--check | --if-needed]" >&2; exit 2 ;;
esac

packages=()
for dir in */; do
  # Native (subprocess) samples ship their executable as is; only WebAssembly ones are built here.
  [ -f "$dir/aion.yaml" ] && ! grep -q '^  type: subprocess' "$dir/aion.yaml" && packages+=("${dir%/}")
done

if [ "$mode" = if-needed ]; then
  missing=()
  for name in "${packages[@]}"; do
    [ -f "$name/build/$name.wasm" ] || missing+=("$name")
  done
  [ "${#missing[@]}" -eq 0 ] && exit 0
  packages=("${missing[@]}")
fi

toolchain_works() {
  echo 'int main(void){return 0;}' | clang --target=wasm32-wasi -x c -o /dev/null - >/dev/null 2>&1
}
if ! command -v clang >/dev/null 2>&1 || ! toolchain_works; then
  echo "[modules] installing the wasm32-wasi toolchain with apt: clang lld wasi-libc libclang-rt-dev-wasm32"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends clang lld wasi-libc libclang-rt-dev-wasm32 >/dev/null
  toolchain_works || { echo "[modules] clang cannot target wasm32-wasi" >&2; exit 1; }
fi

# The manifest's memory limit in bytes, rounded down to whole 64 KiB WebAssembly pages:
# runtime.resources.memory_mb (MiB) or runtime.resources.memory (a quantity such as "256Mi").
memory_limit_bytes() {
  node -e '
const { parse } = require("yaml");
const resources = parse(require("fs").readFileSync(process.argv[1], "utf8"))?.runtime?.resources ?? {};
const units = { "": 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, k: 1e3, M: 1e6, G: 1e9 };
let bytes;
if (resources.memory_mb !== undefined) bytes = Number(resources.memory_mb) * 2 ** 20;
else {
  const m = /^(\d+)(Ki|Mi|Gi|k|M|G)?$/.exec(String(resources.memory ?? "").trim());
  if (m) bytes = Number(m[1]) * units[m[2] ?? ""];
}
const page = 65536;
if (!Number.isSafeInteger(bytes) || bytes < page) {
  console.error(`${process.argv[1]}: runtime.resources needs memory_mb (MiB) or memory (e.g. "16Mi") of at least 64Ki`);
  process.exit(1);
}
console.log(Math.floor(bytes / page) * page);
' "$1"
}

build_module() {
  local name="$1" out="$2" max_bytes
  max_bytes="$(memory_limit_bytes "$name/aion.yaml")"
  # -g0 and --strip-debug: no debug information (wasi-libc's archive carries some);
  # -ffile-prefix-map: no build path even where a macro such as __FILE__ names one.
  clang --target=wasm32-wasi -O2 -g0 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
    -ffile-prefix-map="$PWD"=. \
    -Wl,--strip-debug -Wl,--max-memory="$max_bytes" -Wl,-z,stack-size=262144 \
    -o "$out" "$name"/src/*.c common/aion_module.c -lm
  echo "[modules] built $out ($(wc -c <"$out") bytes, max memory $((max_bytes / 1024)) KiB)"
}

if [ "$mode" = check ]; then
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  differing=()
  for name in "${packages[@]}"; do
    committed="$name/build/$name.wasm"
    build_module "$name" "$scratch/$name.wasm" >/dev/null
    if [ ! -f "$committed" ] || ! cmp -s "$committed" "$scratch/$name.wasm"; then
      differing+=("$committed")
    fi
  done
  if [ "${#differing[@]}" -gt 0 ]; then
    echo "[modules] not equal to a fresh build: ${differing[*]}" >&2
    echo "[modules] toolchain: $(clang --version | head -n 1); wasi-libc $(dpkg-query -W -f='${Version}' wasi-libc 2>/dev/null || echo '?')" >&2
    echo "[modules] rebuild with 'npm run build:modules' (Debian 12 toolchain) and commit the .wasm files" >&2
    exit 1
  fi
  echo "[modules] the committed modules equal a fresh build (${packages[*]})"
  exit 0
fi

for name in "${packages[@]}"; do
  mkdir -p "$name/build"
  build_module "$name" "$name/build/$name.wasm"
done
