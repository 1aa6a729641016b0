#!/usr/bin/env bash
# Builds Jaeger's v1 all-in-one (collector with OTLP receivers, in-memory storage, query API) from the
# Go module proxy (no binary download exists here) into ${AION_TOOL_CACHE:-~/.cache/aion}/jaeger-<v>/:
# the real trace backend the e2e tracing test exports to. Built once per version: 6.5 minutes cold
# on 2 busy cores (module downloads and an empty build cache; 4 CPU-minutes), nothing when cached.
# Prints the binary's path.
set -euo pipefail
version="${1:-v1.76.0}"
out="${AION_TOOL_CACHE:-$HOME/.cache/aion}/jaeger-$version"
[ -x "$out/jaeger-all-in-one" ] && { echo "$out/jaeger-all-in-one"; exit 0; }
# Its go.mod has a replace directive (sarama), which `go install pkg@version` refuses: build it as the
# main module, from a copy of the module the proxy serves (its go.sum pins every dependency).
src="$(GOFLAGS=-mod=mod go mod download -json "github.com/jaegertracing/jaeger@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
work="$(mktemp -d)"
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cp -r "$src/." "$work/"
chmod -R u+w "$work"
mkdir -p "$out"
(cd "$work" && go build -trimpath -o "$out/jaeger-all-in-one.part" ./cmd/all-in-one >&2)
mv "$out/jaeger-all-in-one.part" "$out/jaeger-all-in-one"
echo "$out/jaeger-all-in-one"
