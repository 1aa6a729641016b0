#!/usr/bin/env bash
# Contract test: Schemathesis (from PyPI) with all its checks, over the OpenAPI document the gateway
# serves, against the platform started on its embedded defaults with a valid admin key. Stateful
# links in the document (create -> get / delete) let it reach real objects. Fails on any failure.
#   SCHEMATHESIS_MAX_EXAMPLES          examples per operation and phase (default 25)
#   SCHEMATHESIS_INCLUDE_PATH_REGEX    only the operations whose path matches (default: all)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

version=4.32.5
venv="${AION_TOOL_CACHE:-$HOME/.cache/aion}/schemathesis-$version"
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "[schemathesis] installing schemathesis $version from PyPI into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

# Free ports for every service, so the run never meets another Aion on this machine.
read -r -a ports <<<"$(node -e '
const net = require("net");
// All held open until every one is taken: a port closed at once may be handed out again.
const take = () => new Promise((ok) => { const s = net.createServer().listen(0, "127.0.0.1", () => ok(s)); });
(async () => { const held = []; for (let i = 0; i < 16; i++) held.push(await take()); console.log(held.map((s) => s.address().port).join(" ")); held.forEach((s) => s.close()); })();
')"
services=(GATEWAY ORCHESTRATOR SOVEREIGN PIPELINE OBSERVABILITY MODULE_HOST)
for i in "${!services[@]}"; do
  export "AION_${services[$i]}_HTTP_PORT=${ports[$((2 * i))]}" "AION_${services[$i]}_GRPC_PORT=${ports[$((2 * i + 1))]}"
done
export AION_GATEWAY_OPS_PORT="${ports[12]}"
# A real Prometheus and Alertmanager (Debian's, from tools/infra/install.sh) for the observability
# routes: rule files synced and reloaded, burn rates queried, active alerts read.
alertmanager_port="${ports[13]}"
prometheus_port="${ports[14]}"
export AION_OBSERVABILITY_ALERTMANAGER_URL="http://127.0.0.1:$alertmanager_port"
export AION_OBSERVABILITY_PROMETHEUS_URL="http://127.0.0.1:$prometheus_port"
# Loki is an AGPL server and is not run here: a stand-in answers its documented query API.
loki_port="${ports[15]}"
export AION_OBSERVABILITY_LOKI_URL="http://127.0.0.1:$loki_port"
export AION_OBSERVABILITY_WEBHOOK_TOKEN="$(node -e 'console.log(require("crypto").randomBytes(24).toString("hex"))')"
export AION_GATEWAY_ORCHESTRATOR_ADDRESS="127.0.0.1:$AION_ORCHESTRATOR_GRPC_PORT"
export AION_GATEWAY_SOVEREIGN_ADDRESS="127.0.0.1:$AION_SOVEREIGN_GRPC_PORT"
export AION_GATEWAY_OBSERVABILITY_ADDRESS="127.0.0.1:$AION_OBSERVABILITY_GRPC_PORT"
export AION_GATEWAY_PIPELINE_ADDRESS="127.0.0.1:$AION_PIPELINE_GRPC_PORT"
export AION_GATEWAY_MODULE_HOST_ADDRESS="127.0.0.1:$AION_MODULE_HOST_GRPC_PORT"
export AION_ORCHESTRATOR_SOVEREIGN_ADDRESS="127.0.0.1:$AION_SOVEREIGN_GRPC_PORT"
export AION_ORCHESTRATOR_MODULE_HOST_ADDRESS="127.0.0.1:$AION_MODULE_HOST_GRPC_PORT"
export AION_DATA_DIR=memory
export AION_BOOTSTRAP_ADMIN_KEY="schemathesis-$(node -e 'console.log(require("crypto").randomBytes(24).toString("hex"))')"
# The run sends thousands of requests in a minute: the limits it tests are not these.
export AION_GATEWAY_RATE_LIMIT_KEY_PER_MINUTE=6000000 AION_GATEWAY_RATE_LIMIT_KEY_BURST=1000000
export AION_GATEWAY_RATE_LIMIT_IP_PER_MINUTE=6000000
base="http://127.0.0.1:$AION_GATEWAY_HTTP_PORT"
ops="http://127.0.0.1:$AION_GATEWAY_OPS_PORT"

log="$(mktemp)"
am_dir="$(mktemp -d)"
export AION_OBSERVABILITY_RULES_DIR="$am_dir/rules"
mkdir -p "$AION_OBSERVABILITY_RULES_DIR"
cat >"$am_dir/prometheus.yml" <<YAML
global: { scrape_interval: 15s, evaluation_interval: 15s }
rule_files: ['$AION_OBSERVABILITY_RULES_DIR/*.yml']
alerting: { alertmanagers: [{ static_configs: [{ targets: ['127.0.0.1:$alertmanager_port'] }] }] }
YAML
prometheus --config.file="$am_dir/prometheus.yml" --storage.tsdb.path="$am_dir/tsdb" \
  --web.listen-address="127.0.0.1:$prometheus_port" --web.enable-lifecycle >"$am_dir/prometheus.log" 2>&1 &
prometheus=$!
# Its own process group: npx's children go down with it.
setsid npx tsx apps/observability/test/loki-stand-in.ts "$loki_port" >"$am_dir/loki.log" 2>&1 &
loki=$!
cat >"$am_dir/alertmanager.yml" <<YAML
route: { receiver: aion, group_by: ['...'], group_wait: 1s, group_interval: 1s, repeat_interval: 1h }
receivers:
  - name: aion
    webhook_configs:
      - url: http://127.0.0.1:$AION_OBSERVABILITY_HTTP_PORT/v1/alertmanager/webhook
        send_resolved: true
        http_config: { authorization: { type: Bearer, credentials: $AION_OBSERVABILITY_WEBHOOK_TOKEN } }
YAML
prometheus-alertmanager --config.file="$am_dir/alertmanager.yml" --storage.path="$am_dir/data" \
  --web.listen-address="127.0.0.1:$alertmanager_port" --cluster.listen-address= >"$am_dir/log" 2>&1 &
alertmanager=$!
setsid npx tsx tools/launcher/start-embedded.ts >"$log" 2>&1 &
platform=$!
stop() {
  kill -TERM -- "-$platform" 2>/dev/null || true
  wait "$platform" 2>/dev/null || true
  kill -TERM -- "-$loki" 2>/dev/null || true
  kill -TERM "$alertmanager" "$prometheus" 2>/dev/null || true
  wait "$alertmanager" "$prometheus" "$loki" 2>/dev/null || true
  rm -rf "$log" "$am_dir"
}
trap stop EXIT
for _ in $(seq 1 120); do
  curl -sf "$ops/readyz" >/dev/null && break
  kill -0 "$platform" 2>/dev/null || { cat "$log"; echo "[schemathesis] the platform did not start" >&2; exit 1; }
  sleep 1
done
curl -sf "$ops/readyz" >/dev/null || { tail -50 "$log"; echo "[schemathesis] /readyz never answered" >&2; exit 1; }
curl -sf "$AION_OBSERVABILITY_ALERTMANAGER_URL/-/ready" >/dev/null || {
  cat "$am_dir/log"
  echo "[schemathesis] Alertmanager is not ready" >&2
  exit 1
}
for _ in $(seq 1 30); do curl -sf "$AION_OBSERVABILITY_PROMETHEUS_URL/-/ready" >/dev/null && break; sleep 1; done
curl -sf "$AION_OBSERVABILITY_PROMETHEUS_URL/-/ready" >/dev/null || {
  cat "$am_dir/prometheus.log"
  echo "[schemathesis] Prometheus is not ready" >&2
  exit 1
}

echo "[schemathesis] $base/openapi.json, all checks"
SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$PWD/tools/ci/schemathesis" \
  "$venv/bin/schemathesis" run "$base/openapi.json" \
  --checks all \
  --header "Authorization: Bearer $AION_BOOTSTRAP_ADMIN_KEY" \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-25}" \
  ${SCHEMATHESIS_INCLUDE_PATH_REGEX:+--include-path-regex "$SCHEMATHESIS_INCLUDE_PATH_REGEX"} \
  --workers 2 \
  --seed "${SCHEMATHESIS_SEED:-$RANDOM}" \
  --no-color 2>&1 |
  # schemathesis closes with pytest's banner ("=== 1 warning in 100.00s ==="), which CI's reader
  # takes for a pytest run of no test; the suite's one closing count is printed by test-all.sh.
  sed -E 's/^=+ (.*) =+$/--- \1 ---/'
exit "${PIPESTATUS[0]}"
