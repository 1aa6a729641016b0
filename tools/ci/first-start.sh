#!/usr/bin/env bash
# CI's first step, on its pristine clone, before anything else is installed, generated or built:
# the README's quick start exactly as a newcomer runs it. `npm install && npm start` in the
# background (output to a log), wait for the gateway's /readyz (on its ops port, 9080: readiness
# and metrics are not on the public port), submit the README's first
# summarize task and check its result, check the receipt keys and the OpenAPI document, then stop
# the platform with SIGTERM. A step that only a developer's machine has done (generated code, a
# built module, a system package) makes this fail. Prints the first-start timings.
#   AION_FIRST_START_TIMEOUT_S   bound on install + start until /readyz (default 1200)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

base=http://localhost:8080
ops=http://localhost:9080
timeout_s="${AION_FIRST_START_TIMEOUT_S:-1200}"
scratch="$(mktemp -d)"
log="$scratch/first-start.log"
pid=""
exit_status=""
killed=false

say() { echo "[first-start] $*"; }
fail() {
  echo "[first-start] FAILED: $*" >&2
  if [ -s "$log" ]; then
    echo "[first-start] ---- npm install && npm start output ($log) ----" >&2
    tail -n 200 "$log" >&2
  fi
  exit 1
}

# The first start writes its data under .aion/data; a leftover one would make it not a first start.
[ -e .aion ] && fail ".aion/ exists: run this in a fresh clone (it checks the first start)"
for port in 8080 9080 8081 8082 8083 8084 8085 50050 50051 50052 50053 50054 50055; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    fail "port $port is already in use; the README's defaults need it free"
  fi
done

stop_platform() {
  [ -n "$pid" ] || return 0
  if kill -0 -- "-$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do
      kill -0 -- "-$pid" 2>/dev/null || break
      sleep 1
    done
    if kill -0 -- "-$pid" 2>/dev/null; then
      echo "[first-start] still running 30 s after SIGTERM; killing it" >&2
      kill -KILL -- "-$pid" 2>/dev/null || true
      killed=true
    fi
  fi
  exit_status=0
  wait "$pid" 2>/dev/null || exit_status=$?
  pid=""
}
cleanup() {
  stop_platform
  rm -rf .aion "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# As the README's quick start: the admin key exported, then its first command.
AION_BOOTSTRAP_ADMIN_KEY="first-start-$(node -e 'process.stdout.write(require("crypto").randomBytes(24).toString("hex"))')"
export AION_BOOTSTRAP_ADMIN_KEY
say "npm install && npm start (log: $log)"
started=$SECONDS
# setsid: its own process group, so that SIGTERM reaches npm, tsx and the platform alike.
setsid bash -c 'npm install && npm start' >"$log" 2>&1 </dev/null &
pid=$!

install_s=""
until curl -fsS -o /dev/null --max-time 2 "$ops/readyz" 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || fail "npm install && npm start exited before the gateway was ready"
  if [ -z "$install_s" ] && grep -q '^> aion@[^ ]* start$' "$log"; then
    install_s=$((SECONDS - started))
  fi
  [ $((SECONDS - started)) -lt "$timeout_s" ] || fail "no ready gateway at $ops/readyz within $timeout_s s"
  sleep 1
done
ready_s=$((SECONDS - started))
say "ready: npm install ${install_s:-?} s, then npm start to /readyz $((ready_s - ${install_s:-0})) s (${ready_s} s in all)"

git diff --quiet -- package-lock.json || fail "npm install rewrote package-lock.json: commit the lock npm install writes"

# The README's first curl command.
code="$(curl -sS --max-time 30 -o "$scratch/task.json" -w '%{http_code}' "$base/v1/tasks" \
  -H "Authorization: Bearer $AION_BOOTSTRAP_ADMIN_KEY" \
  -H 'content-type: application/json' -H 'Prefer: wait=10' -d '{
    "intent": "summarize",
    "params": { "text": "Aion keeps data in its jurisdiction. It names the rule behind every routing decision. Budgets cap what each tenant spends.", "max_sentences": 2 },
    "data_context": { "jurisdiction": "DE", "classification": "pii" }
  }')" || fail "POST /v1/tasks did not answer"
[ "$code" = 200 ] || fail "POST /v1/tasks answered $code: $(cat "$scratch/task.json")"
node -e '
const task = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const problems = [];
if (task.status !== "OK") problems.push(`status ${task.status}, not OK`);
if (typeof task.result?.summary !== "string" || task.result.summary.trim() === "") problems.push("no summary");
if (typeof task.engine?.reason !== "string" || task.engine.reason === "") problems.push("no engine reason");
if (problems.length) { console.error(problems.join("; ") + ": " + JSON.stringify(task)); process.exit(1); }
console.log(`[first-start] task ${task.task_id}: ${JSON.stringify(task.result.summary)} (${task.engine.route}: ${task.engine.reason})`);
' "$scratch/task.json" || fail "the summarize task's result"

for path in /.well-known/aion-receipt-keys /openapi.json; do
  code="$(curl -sS --max-time 10 -o "$scratch/body.json" -w '%{http_code}' "$base$path")" || fail "GET $path did not answer"
  [ "$code" = 200 ] || fail "GET $path answered $code"
  node -e '
const body = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
if (body === null || typeof body !== "object") throw new Error("not a JSON object");
' "$scratch/body.json" || fail "GET $path did not answer JSON"
  say "GET $path: 200 JSON"
done

stopping=$SECONDS
stop_platform
[ "$killed" = false ] || fail "the platform did not stop within 30 s of SIGTERM"
# npm itself gets the SIGTERM too and then exits 143; the platform's own stop is in the log.
say "stopped with SIGTERM in $((SECONDS - stopping)) s (npm exit status $exit_status)"
say "passed"
