#!/usr/bin/env bash
# Builds the images' root filesystem into DIR from Debian packages, with no base image:
#   bash tools/images/rootfs.sh DIR [module-host]
# mmdebstrap's extract variant unpacks the packages of config.env (and their dependencies) without
# running maintainer scripts, so no shell, dpkg or apt ends up in the image. What those scripts would
# have made is made here: the CA bundle, the user, and a dpkg status per package (status.d, which
# image scanners read). Reproducible for a given SOURCE_DATE_EPOCH and mirror content.
# `module-host` adds MODULE_HOST_DEBIAN_PACKAGES (the subprocess runtime's tools) to the same list,
# so that root filesystem is the shared one plus files, never other versions of the shared ones.
# /usr is merged (/bin, /sbin, /lib, /lib64 link into it) as in any bookworm install: the
# subprocess sandbox binds only /usr, so the loader and libc must be found there.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=config.env
source "$here/config.env"
dir="${1:?usage: rootfs.sh DIR [module-host]}"
flavour="${2:-}"
packages="$DEBIAN_PACKAGES"
case "$flavour" in
  '') ;;
  module-host) packages="$packages,$MODULE_HOST_DEBIAN_PACKAGES" ;;
  *) echo "unknown flavour: $flavour" >&2; exit 2 ;;
esac
: "${SOURCE_DATE_EPOCH:?set SOURCE_DATE_EPOCH (build.sh does)}"
export SOURCE_DATE_EPOCH LC_ALL=C

mode=root
if [ "$(id -u)" -ne 0 ]; then mode=unshare; fi

rm -rf "$dir"
# The extract hook sees the downloaded .deb files: their control fields become status.d entries.
mmdebstrap --quiet --variant=extract --mode="$mode" --format=directory \
  --include="$packages" \
  --setup-hook='for d in bin sbin lib lib64; do mkdir -p "$1/usr/$d" && ln -s "usr/$d" "$1/$d"; done' \
  --extract-hook='mkdir -p "$1/var/lib/dpkg/status.d" && for deb in "$1"/var/cache/apt/archives/*.deb; do
      pkg="$(dpkg-deb -f "$deb" Package)"
      { dpkg-deb -f "$deb" Package Version Architecture Source Maintainer Homepage; echo "Status: install ok installed"; } \
        > "$1/var/lib/dpkg/status.d/$pkg"
    done' \
  "$DEBIAN_SUITE" "$dir" >&2

cd "$dir"
# What a container runtime or the kubelet provides, or what nothing in the image reads: host files
# mmdebstrap copies in, the empty dpkg database of the extract variant, apt's configuration,
# documentation (licences stay) and manuals.
rm -rf etc/hostname etc/resolv.conf etc/apt etc/dpkg var/cache/* var/lib/apt var/log/* \
  var/lib/dpkg/{alternatives,info,triggers,updates,arch,status,available,diversions,statoverride} \
  usr/share/{man,info,lintian,bash-completion,gdb,pixmaps,locale} dev/* tmp/*
find usr/share/doc -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true
find usr/share/doc -depth -type d -empty -delete 2>/dev/null || true

# update-ca-certificates' result: every CA of the Mozilla store in one PEM bundle, in name order.
mkdir -p etc/ssl/certs
find usr/share/ca-certificates -name '*.crt' | sort | xargs cat > etc/ssl/certs/ca-certificates.crt

# root and the unprivileged user the services run as (no login shell exists in the image).
cat > etc/passwd <<EOF
root:x:0:0:root:/root:/usr/sbin/nologin
aion:x:${IMAGE_UID}:${IMAGE_GID}:aion:/tmp:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat > etc/group <<EOF
root:x:0:
aion:x:${IMAGE_GID}:
nogroup:x:65534:
EOF
printf 'hosts: files dns\n' > etc/nsswitch.conf
mkdir -p tmp && chmod 1777 tmp

if [ "$flavour" = module-host ]; then
  for applet in $MODULE_HOST_APPLETS; do
    [ -e "usr/bin/$applet" ] || ln -s busybox "usr/bin/$applet"
  done
fi

# One timestamp for every file, so the layer's bytes depend only on content.
find . -depth -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +
