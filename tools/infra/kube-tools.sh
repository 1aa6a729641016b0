#!/usr/bin/env bash
# Builds the Kubernetes client tools the chart tests need (charts/aion, e2e helm-chart suites) from
# the Go module proxy, since no binary can be downloaded here, into the tool cache keyed by version:
#   ${AION_TOOL_CACHE:-~/.cache/aion}/helm-<v>/helm              helm.sh/helm/v4 (server-side apply)
#   ${AION_TOOL_CACHE:-~/.cache/aion}/kubernetes-<v>/kubectl     the same k8s.io/kubernetes release
#                                                                 as kube-apiserver.sh
#   ${AION_TOOL_CACHE:-~/.cache/aion}/kubeconform-<v>/kubeconform
# Cold: about 2-3 minutes for Helm, 1 for kubectl (sharing kube-apiserver's module cache), 0.5 for
# kubeconform on 2 cores; nothing when cached. Prints one `NAME=path` line per tool on stdout.
set -euo pipefail
kubernetes="${AION_KUBERNETES_VERSION:-v1.36.3}"
helm_version="${AION_HELM_VERSION:-v4.3.2}"
kubeconform_version="${AION_KUBECONFORM_VERSION:-v0.8.0}"
cache="${AION_TOOL_CACHE:-$HOME/.cache/aion}"

# Helm and kubeconform have no replace directives: `go install` builds them as published.
helm="$cache/helm-$helm_version/helm"
if [ ! -x "$helm" ]; then
  GOBIN="$(dirname "$helm")" go install \
    -ldflags "-X helm.sh/helm/v4/internal/version.version=$helm_version" \
    "helm.sh/helm/v4/cmd/helm@$helm_version" >&2
fi

kubeconform="$cache/kubeconform-$kubeconform_version/kubeconform"
if [ ! -x "$kubeconform" ]; then
  GOBIN="$(dirname "$kubeconform")" go install \
    "github.com/yannh/kubeconform/cmd/kubeconform@$kubeconform_version" >&2
fi

# kubectl lives in k8s.io/kubernetes, whose go.mod replaces its staging modules with local paths:
# the same throwaway build module as kube-apiserver.sh (each staging module at its published
# v0.<minor>.<patch>).
kubectl="$cache/kubernetes-$kubernetes/kubectl"
if [ ! -x "$kubectl" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (
    cd "$work"
    cp "$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$kubernetes" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')" kubernetes.mod
    {
      printf 'module kubebuild\n\ngo %s\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' \
        "$(awk '/^go /{print $2}' kubernetes.mod)" "$kubernetes"
      awk -v v="v0.${kubernetes#v1.}" '/=> \.\/staging/{print "\t" $1 " => " $1 " " v}' kubernetes.mod
      printf ')\n'
    } >go.mod
    printf '//go:build tools\n\npackage kubebuild\n\nimport _ "k8s.io/kubernetes/cmd/kubectl"\n' >tools.go
    go mod tidy >&2
    mkdir -p "$(dirname "$kubectl")"
    go build -o "$kubectl" \
      -ldflags "-X k8s.io/component-base/version.gitVersion=$kubernetes -X k8s.io/client-go/pkg/version.gitVersion=$kubernetes" \
      k8s.io/kubernetes/cmd/kubectl >&2
  )
fi

echo "AION_TEST_HELM=$helm"
echo "AION_TEST_KUBECTL=$kubectl"
echo "AION_TEST_KUBECONFORM=$kubeconform"
