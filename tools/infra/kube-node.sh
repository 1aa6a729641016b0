#!/usr/bin/env bash
# Builds the rest of a one-node Kubernetes cluster from the Go module proxy (no binary download exists
# here), for the release kube-apiserver.sh builds, into ${AION_TOOL_CACHE:-~/.cache/aion}/kubernetes-<v>/:
# kube-controller-manager (Deployments -> ReplicaSets -> Pods), kube-scheduler, kubelet and
# kube-proxy. One `go build` so the packages they share compile once: about 4.5 minutes cold on 2
# cores after kube-apiserver.sh (same module cache), nothing when cached. Also CoreDNS (the cluster's
# DNS: the chart's services find each other by headless Service names) into coredns-<v>/: `go install`
# as published, about 8 minutes cold. Prints the Kubernetes directory.
# The node also needs containerd, runc, the CNI plugins and catatonit from Debian (install.sh).
set -euo pipefail
version="${1:-${AION_KUBERNETES_VERSION:-v1.36.3}}"
coredns_version="${AION_COREDNS_VERSION:-v1.14.7}"
cache="${AION_TOOL_CACHE:-$HOME/.cache/aion}"
out="$cache/kubernetes-$version"
if [ ! -x "$cache/coredns-$coredns_version/coredns" ]; then
  GOBIN="$cache/coredns-$coredns_version" go install "github.com/coredns/coredns@$coredns_version" >&2
fi
commands=(kube-controller-manager kube-scheduler kubelet kube-proxy)
missing=()
for c in "${commands[@]}"; do [ -x "$out/$c" ] || missing+=("$c"); done
[ ${#missing[@]} -eq 0 ] && { echo "$out"; exit 0; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
# The same throwaway module as kube-apiserver.sh: k8s.io/kubernetes replaces its staging modules with
# local paths, which the module proxy cannot serve, so each points at its published v0.<minor>.<patch>.
cp "$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')" kubernetes.mod
{
  printf 'module kubebuild\n\ngo %s\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' \
    "$(awk '/^go /{print $2}' kubernetes.mod)" "$version"
  awk -v v="v0.${version#v1.}" '/=> \.\/staging/{print "\t" $1 " => " $1 " " v}' kubernetes.mod
  printf ')\n'
} >go.mod
{
  printf '//go:build tools\n\npackage kubebuild\n\nimport (\n'
  for c in "${missing[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
  printf ')\n'
} >tools.go
go mod tidy >&2
mkdir -p "$out"
packages=()
for c in "${missing[@]}"; do packages+=("k8s.io/kubernetes/cmd/$c"); done
go build -o "$out/" \
  -ldflags "-X k8s.io/component-base/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitVersion=$version" \
  "${packages[@]}" >&2
echo "$out"
