/**
 * `npm start` (the embedded default, one process) with and without the co-located profile, and
 * with PGlite on its own thread or on the event loop (AION_PGLITE_THREAD=false), side by side in one run: summarize tasks end to end (POST /v1/tasks with Prefer: wait) through the
 * gateway, and calls between services either in-process (AION_CO_LOCATED=true, the default in
 * embedded mode) or over loopback gRPC (false). Fixed rates interleaved per profile, then closed
 * loop with 32 clients; the machine's speed drifts, so read the ratio of the two in each round.
 *   npx tsx tools/bench/embedded.bench.ts [rate,rate,...] [seconds] [rounds]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { runLoad, type LoadResult } from './support';

const rates = (process.argv[2] ?? '25,50,100').split(',').map(Number);
const seconds = Number(process.argv[3] ?? '15');
const rounds = Number(process.argv[4] ?? '2');
const ADMIN = 'bench-admin-key-0123456789abcdef0123456789';
const TEXT =
  'Aion keeps data in the jurisdiction its owner chose. Every routing decision names the rule that made it. ' +
  'Budgets are reserved before a task runs and settled after it. Modules run in a WebAssembly sandbox with no network.';

interface Running {
  child: ChildProcess;
  gateway: string;
}

/** `npm start` on its own ports (base + offsets), in memory, with the profile's settings. */
async function start(profile: Record<string, string>, base: number): Promise<Running> {
  const root = path.resolve(__dirname, '..', '..');
  const env = {
    ...process.env,
    AION_BOOTSTRAP_ADMIN_KEY: ADMIN,
    AION_DATA_DIR: 'memory',
    ...profile,
    LOG_LEVEL: 'warn',
    AION_GATEWAY_HTTP_PORT: String(base),
    AION_GATEWAY_OPS_PORT: String(base + 1),
    AION_GATEWAY_GRPC_PORT: String(base + 2),
    AION_ORCHESTRATOR_HTTP_PORT: String(base + 3),
    AION_ORCHESTRATOR_GRPC_PORT: String(base + 4),
    AION_SOVEREIGN_HTTP_PORT: String(base + 5),
    AION_SOVEREIGN_GRPC_PORT: String(base + 6),
    AION_MODULE_HOST_HTTP_PORT: String(base + 7),
    AION_MODULE_HOST_GRPC_PORT: String(base + 8),
    AION_PIPELINE_HTTP_PORT: String(base + 9),
    AION_PIPELINE_GRPC_PORT: String(base + 10),
    AION_OBSERVABILITY_HTTP_PORT: String(base + 11),
    AION_OBSERVABILITY_GRPC_PORT: String(base + 12),
    AION_GATEWAY_ORCHESTRATOR_ADDRESS: `127.0.0.1:${base + 4}`,
    AION_GATEWAY_SOVEREIGN_ADDRESS: `127.0.0.1:${base + 6}`,
    AION_ORCHESTRATOR_SOVEREIGN_ADDRESS: `127.0.0.1:${base + 6}`,
    AION_ORCHESTRATOR_MODULE_HOST_ADDRESS: `127.0.0.1:${base + 8}`,
    // The bench measures the path, not the limits.
    AION_GATEWAY_RATE_LIMIT_KEY_PER_MINUTE: '10000000',
    AION_GATEWAY_RATE_LIMIT_KEY_BURST: '10000000',
    AION_GATEWAY_RATE_LIMIT_IP_PER_MINUTE: '10000000',
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'tools/launcher/start-embedded.ts'], {
    cwd: root,
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const gateway = `http://127.0.0.1:${base}`;
  for (let i = 0; i < 240; i++) {
    const ready = await fetch(`http://127.0.0.1:${base + 1}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { child, gateway };
    await new Promise((r) => setTimeout(r, 500));
  }
  child.kill('SIGKILL');
  throw new Error(`npm start (${JSON.stringify(profile)}) did not become ready`);
}

function load(target: Running, rate: number | undefined, durationSeconds: number) {
  return runLoad({
    url: `${target.gateway}/v1/tasks`,
    body: JSON.stringify({
      intent: 'summarize',
      params: { text: TEXT, max_sentences: 2 },
      sla: { privacy: 'local-only' },
      data_context: { jurisdiction: 'DE', classification: 'none' },
    }),
    headers: { authorization: `Bearer ${ADMIN}`, prefer: 'wait=10' },
    succeeded: (body) => (JSON.parse(body) as { status?: string }).status === 'OK',
    ...(rate ? { rate } : {}),
    connections: rate ? 128 : 32,
    durationSeconds,
  });
}

async function main() {
  const profiles = {
    'co-located, PGlite thread (npm start)': await start({ AION_CO_LOCATED: 'true' }, 28_100),
    'co-located, PGlite on the event loop': await start(
      { AION_CO_LOCATED: 'true', AION_PGLITE_THREAD: 'false' },
      28_200,
    ),
    'loopback gRPC, PGlite thread': await start({ AION_CO_LOCATED: 'false' }, 28_300),
  };
  const results: { round: number; profile: string; run: LoadResult }[] = [];
  try {
    for (const target of Object.values(profiles)) await load(target, 50, 5); // warm-up
    for (let round = 1; round <= rounds; round++)
      for (const rate of [...rates, undefined])
        for (const [profile, target] of Object.entries(profiles))
          results.push({ round, profile, run: await load(target, rate, seconds) });
  } finally {
    for (const { child } of Object.values(profiles)) child.kill('SIGTERM');
  }
  process.stdout.write(
    `${JSON.stringify({ benchmark: 'embedded-co-located', results }, null, 1)}\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
