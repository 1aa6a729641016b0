#!/usr/bin/env bash
# Builds SeaweedFS's `weed` from the Go module proxy (no binary download exists here) into
# ${AION_TOOL_CACHE:-~/.cache/aion}/seaweedfs-<version>/weed: the real S3-compatible server the
# data-pipeline's object-store tests run (`weed server -s3`). Built once per version, minutes cold
# on 2 cores, nothing when cached. Prints the binary's path.
set -euo pipefail
version="${1:-v0.0.0-20261109003541-7506e5f91cd6}"
out="${AION_TOOL_CACHE:-$HOME/.cache/aion}/seaweedfs-$version"
[ -x "$out/weed" ] && { echo "$out/weed"; exit 0; }
# Its go.mod has a replace directive, which `go install pkg@version` refuses: build it as the main
# module, from a copy of the module the proxy serves (its go.sum pins every dependency).
src="$(GOFLAGS=-mod=mod go mod download -json "github.com/seaweedfs/seaweedfs@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
work="$(mktemp -d)"
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cp -r "$src/." "$work/"
chmod -R u+w "$work"
mkdir -p "$out"
(cd "$work" && go build -trimpath -o "$out/weed.part" ./weed >&2)
mv "$out/weed.part" "$out/weed"
echo "$out/weed"
