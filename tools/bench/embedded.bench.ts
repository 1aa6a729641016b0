/**
 * `npm start` (the embedded default, one process) with and without the co-located profile, and
 * with PGlite on its own thread or on the event loop (AION_PGLITE_THREAD=false), side by side in one run: summarize tasks end to end (POST /v1/tasks with Prefer: wait) through the
 * gateway, and calls between services either in-process (AION_CO_LOCATED=true, the default in
 * embedded mode) or over loopback gRPC (false). Fixed rates interleaved per profile, then closed
 * loop with 32 clients; the machine's speed drifts, so read the ratio of the two in each round.
 *   npx tsx tools/bench/embedded.bench.ts [rate,rate,...] [seconds] [rounds] [profile regexp]
 */
import { startAionLauncher } from './peers';
import { runLoad, type LoadResult } from './support';

const rates = (process.argv[2] ?? '25,50,100').split(',').map(Number);
const seconds = Number(process.argv[3] ?? '15');
const rounds = Number(process.argv[4] ?? '2');
const only = new RegExp(process.argv[5] ?? '.');
const ADMIN = 'bench-admin-key-0123456789abcdef0123456789';
const TEXT =
  'Aion keeps data in the jurisdiction its owner chose. Every routing decision names the rule that made it. ' +
  'Budgets are reserved before a task runs and settled after it. Modules run in a WebAssembly sandbox with no network.';

type Running = Awaited<ReturnType<typeof startAionLauncher>>;

/** `npm start` on free ports, in memory, with the profile's settings. */
const start = (profile: Record<string, string>) =>
  startAionLauncher('start-embedded', {
    AION_BOOTSTRAP_ADMIN_KEY: ADMIN,
    AION_DATA_DIR: 'memory',
    ...profile,
  });

function load(target: Running, rate: number | undefined, durationSeconds: number) {
  return runLoad({
    url: `${target.url}/v1/tasks`,
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
    cpu: { aion: [target.pid], bench: [process.pid] },
  });
}

async function main() {
  const settings: Record<string, Record<string, string>> = {
    'co-located, PGlite thread (npm start)': { AION_CO_LOCATED: 'true' },
    'co-located, PGlite on the event loop': {
      AION_CO_LOCATED: 'true',
      AION_PGLITE_THREAD: 'false',
    },
    'loopback gRPC, PGlite thread': { AION_CO_LOCATED: 'false' },
  };
  const profiles: Record<string, Running> = {};
  for (const [name, env] of Object.entries(settings))
    if (only.test(name)) profiles[name] = await start(env);
  const results: { round: number; profile: string; run: LoadResult }[] = [];
  try {
    for (const target of Object.values(profiles)) await load(target, 50, 5); // warm-up
    for (let round = 1; round <= rounds; round++)
      for (const rate of [...rates, undefined])
        for (const [profile, target] of Object.entries(profiles))
          results.push({ round, profile, run: await load(target, rate, seconds) });
  } finally {
    for (const profile of Object.values(profiles)) profile.stop();
  }
  process.stdout.write(
    `${JSON.stringify({ benchmark: 'embedded-co-located', results }, null, 1)}\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
