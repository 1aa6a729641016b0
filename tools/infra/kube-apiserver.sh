#!/usr/bin/env bash
# Builds kube-apiserver from the Go module proxy (no binary download exists here) into
# ${AION_TOOL_CACHE:-~/.cache/aion}/kubernetes-<version>/, where the tests that need a real
# Kubernetes API server find it (libs and apps: kube-apiserver.ts). Built once per version: about
# 5-10 minutes cold on 2 cores (1.2 GB module cache, 3.5 GB build cache), nothing when cached.
# The tests also need etcd (Debian's etcd-server, installed by install.sh).
set -euo pipefail
version="${1:-v1.36.3}"
out="${AION_TOOL_CACHE:-$HOME/.cache/aion}/kubernetes-$version"
[ -x "$out/kube-apiserver" ] && { echo "$out/kube-apiserver"; exit 0; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
# k8s.io/kubernetes replaces its staging modules with local paths, which `go install` refuses:
# require it from a throwaway module that points each at its published v0.<minor>.<patch>.
# The release's go.mod, through whatever GOPROXY this machine uses.
cp "$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')" kubernetes.mod
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
