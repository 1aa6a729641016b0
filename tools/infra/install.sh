#!/usr/bin/env bash
# Installs what the integration tests and the local dev stack run on (Debian/Ubuntu):
#   PostgreSQL 15, Redis 7, etcd, Python's venv, Prometheus (with promtool) and Alertmanager from apt,
#   Java 17 and Maven if missing, the Apache Kafka 3.9 broker jars from Maven Central into
#   $AION_INFRA_CACHE (default ~/.cache/aion-infra).
# Idempotent: installs only what is missing. Nothing is downloaded from outside the registries.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="${AION_INFRA_CACHE:-$HOME/.cache/aion-infra}"
kafka_version="3.9.1"
kafka_libs="$cache/kafka-$kafka_version/libs"

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then missing+=(postgresql); fi
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# etcd backs the real kube-apiserver that the Kubernetes tests start (tools/infra/kube-apiserver.sh).
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
# The contract test installs schemathesis from PyPI into a virtual environment.
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
# The observability tests run promtool (check/test rules) and a real Prometheus and Alertmanager.
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
# The image tests (tools/images/build.sh): a root filesystem from Debian packages, assembled into an
# OCI image, pushed to a local registry and run in an OCI runtime; no Docker engine involved.
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
command -v umoci >/dev/null 2>&1 || missing+=(umoci)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
# runc, not crun: Debian 12's crun refuses hosts with hybrid cgroups (v1 controllers plus v2).
command -v runc >/dev/null 2>&1 || missing+=(runc)
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
# module-host's subprocess runtime runs native modules under bubblewrap (user, PID, IPC, UTS, net namespaces).
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
# A subprocess module granted network reaches the host's egress proxy through socat in its sandbox.
command -v socat >/dev/null 2>&1 || missing+=(socat)
# A real Kubernetes node for the chart (e2e kube-node suite, docs/kubernetes-node.md): containerd
# (CRI) runs pods with runc, the CNI bridge plugin wires them, catatonit is the pause image's process.
command -v containerd >/dev/null 2>&1 || missing+=(containerd)
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
command -v catatonit >/dev/null 2>&1 || missing+=(catatonit)
# The model server image sovereign-ai rolls out on that node: static busybox's httpd answers /health.
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || missing+=(busybox-static)

if [ "${#missing[@]}" -gt 0 ]; then
  echo "[infra] installing with apt: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! ls "$kafka_libs"/kafka_2.13-*.jar >/dev/null 2>&1; then
  echo "[infra] resolving Kafka $kafka_version from Maven Central into $kafka_libs"
  mkdir -p "$kafka_libs"
  mvn -q -B -f "$repo_root/tools/infra/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$kafka_libs" -DincludeScope=runtime
fi

echo "[infra] postgres: $(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
echo "[infra] redis: $(redis-server --version | awk '{print $3}')"
echo "[infra] kafka: $kafka_libs ($(ls "$kafka_libs" | wc -l) jars)"
