#!/usr/bin/env bash
# Builds kube-apiserver from the Go module proxy (no binary download exists here) into
# ${AION_TOOL_CACHE:-~/.cache/aion}/kubernetes-<version>/, where applied-cluster.int.spec.ts
# finds it. About 10 minutes on 2 cores, 1.2 GB module cache, 3.5 GB build cache. The test also
# needs etcd on the PATH (Debian: apt-get install etcd-server).
set -euo pipefail
version="${1:-v1.36.3}"
out="${AION_TOOL_CACHE:-$HOME/.cache/aion}/kubernetes-$version"
[ -x "$out/kube-apiserver" ] && { echo "$out/kube-apiserver"; exit 0; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
# k8s.io/kubernetes replaces its staging modules with local paths, which `go install` refuses:
# require it from a throwaway module that points each at its published v0.<minor>.<patch>.
curl -sf "https://proxy.golang.org/k8s.io/kubernetes/@v/$version.mod" -o kubernetes.mod
{
  printf 'module kubebuild\n\ngo %s\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' \
    "$(awk '/^go /{print $2}' kubernetes.mod)" "$version"
  awk -v v="v0.${version#v1.}" '/=> \.\/staging/{print "\t" $1 " => " $1 " " v}' kubernetes.mod
  printf ')\n'
} >go.mod
printf '//go:build tools\n\npackage kubebuild\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' >tools.go
go mod tidy
mkdir -p "$out"
go build -o "$out/kube-apiserver" \
  -ldflags "-X k8s.io/component-base/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitVersion=$version" \
  k8s.io/kubernetes/cmd/kube-apiserver
echo "$out/kube-apiserver"
