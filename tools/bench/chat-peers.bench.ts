/**
 * Chat completions through every peer side by side, interleaved (issue 14's targets): direct to
 * the upstream, a bare proxy (the floor), Portkey's gateway, LiteLLM's proxy, Aion's `npm start`
 * (embedded, co-located, PGlite on its own thread), Aion co-located on PostgreSQL/Redis/Kafka and
 * Aion distributed. The same non-streaming request, a 20 ms upstream, fixed rates open loop.
 * Reports per target and rate: added p50/p99 over direct, CPU ms per request summed over every
 * process the target needs, and the highest rate with added p99 under 50 ms and no error.
 *   npm run infra:up && npx tsx tools/bench/chat-peers.bench.ts [rates] [seconds] [repetitions] [targets]
 * (targets: comma list of the names below; default all). Medians over the repetitions.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase, distributedEnv } from '@aion/testing';
import { startAionLauncher, startLiteLlm, startPortkey, type Peer } from './peers';
import { loadInfraEnv, runLoad, startHelper, startStack, type LoadResult } from './support';
import type { ProcessGroups } from './cpu';

const rates = (process.argv[2] ?? '50,100,200').split(',').map(Number);
const seconds = Number(process.argv[3] ?? '30');
const repetitions = Number(process.argv[4] ?? '3');
const only = process.argv[5]?.split(',');
const UPSTREAM_DELAY_MS = 20;
const ADMIN = `bench-admin-${randomBytes(16).toString('hex')}`;
const body = JSON.stringify({
  model: 'test-model',
  messages: [{ role: 'user', content: 'Say something short.' }],
});
const INFRA: ProcessGroups = {
  postgres: /^postgres[: ]|bin\/postgres /,
  redis: /^redis-server /,
  kafka: /kafka\.Kafka|kafka-server|KafkaRaftServer|org\.apache\.kafka/,
};

interface Target {
  url: string;
  headers: Record<string, string>;
  cpu: ProcessGroups;
  stop(): void | Promise<void>;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
};

async function main() {
  loadInfraEnv();
  const upstream = await startHelper('upstream', [String(UPSTREAM_DELAY_MS)]);
  const upstreamUrl = upstream.info['url']!;
  const upstreamPid = upstream.child.pid ?? 0;
  const scratch = mkdtempSync(path.join(tmpdir(), 'aion-bench-peers-'));
  const engines = path.join(scratch, 'engines.yaml');
  writeFileSync(
    engines,
    `engines:\n  - { name: upstream-llm, tier: cloud-standard, kind: openai-compatible, endpoint: "${upstreamUrl}", models: [test-model], intents: [chat], jurisdiction: DE, region: local, price_per_1k_tokens: { input: 0.0001, output: 0.0002 } }\n`,
  );
  const aionEnv = {
    AION_BOOTSTRAP_ADMIN_KEY: ADMIN,
    AION_BOOTSTRAP_TENANT: `bench-${Date.now()}`,
    AION_ORCHESTRATOR_ENGINES_FILE: engines,
  };
  const auth = { authorization: `Bearer ${ADMIN}` };
  const alone = (peer: Peer, name: string, headers: Record<string, string>): Target => ({
    url: `${peer.url}/v1/chat/completions`,
    headers,
    cpu: { [name]: [peer.pid], upstream: [upstreamPid], bench: [process.pid] },
    stop: () => peer.stop(),
  });
  const starters: Record<string, () => Promise<Target>> = {
    direct: async () => ({
      url: `${upstreamUrl}/chat/completions`,
      headers: {},
      cpu: { upstream: [upstreamPid], bench: [process.pid] },
      stop: () => undefined,
    }),
    'bare proxy': async () => {
      const proxy = await startHelper('bare-proxy', [upstreamUrl]);
      const peer = { url: proxy.info['url']!, pid: proxy.child.pid ?? 0 };
      return {
        url: `${peer.url}/chat/completions`,
        headers: {},
        cpu: { proxy: [peer.pid], upstream: [upstreamPid], bench: [process.pid] },
        stop: () => void proxy.child.kill('SIGTERM'),
      };
    },
    portkey: async () =>
      alone(await startPortkey(), 'portkey', {
        authorization: 'Bearer sk-bench',
        'x-portkey-provider': 'openai',
        'x-portkey-custom-host': upstreamUrl,
      }),
    litellm: async () => {
      const key = `sk-${randomBytes(24).toString('hex')}`;
      return alone(await startLiteLlm(upstreamUrl, key), 'litellm', {
        authorization: `Bearer ${key}`,
      });
    },
    'aion npm start': async () =>
      alone(
        await startAionLauncher('start-embedded', { ...aionEnv, AION_DATA_DIR: 'memory' }),
        'aion',
        auth,
      ),
    'aion co-located (PostgreSQL)': async () => {
      const db = await createTestDatabase('benchcoloc');
      execFileSync(process.execPath, ['--import', 'tsx', 'libs/db/src/cli.ts', 'migrate'], {
        env: { PATH: process.env['PATH'], DATABASE_URL: db.ownerUrl, AION_DB_APP_ROLE: db.appRole },
        stdio: 'pipe',
      });
      const peer = await startAionLauncher('start-co-located', {
        ...distributedEnv(db, randomBytes(24).toString('hex')),
        ...aionEnv,
      });
      return {
        url: `${peer.url}/v1/chat/completions`,
        headers: auth,
        cpu: {
          aion: [peer.pid],
          ...INFRA,
          // Its own connections' backends: the server may serve other work meanwhile.
          'of which postgres backends': new RegExp(`^postgres: \\S+ ${db.name} `),
          upstream: [upstreamPid],
          bench: [process.pid],
        },
        stop: async () => {
          peer.stop();
          await new Promise((resolve) => setTimeout(resolve, 2_000));
          await db.drop().catch(() => undefined);
        },
      };
    },
    'aion distributed': async () => {
      const stack = await startStack(engines);
      return {
        url: `${stack.gateway}/v1/chat/completions`,
        headers: { authorization: `Bearer ${stack.adminKey}` },
        cpu: { ...stack.processes, upstream: [upstreamPid] },
        stop: () => stack.stop(),
      };
    },
  };
  const targets: Record<string, Target> = {};
  const notes: Record<string, string> = {};
  try {
    for (const [name, start] of Object.entries(starters)) {
      if (only && name !== 'direct' && !only.includes(name)) continue;
      try {
        targets[name] = await start();
      } catch (err) {
        notes[name] = `did not start: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    for (const target of Object.values(targets))
      await runLoad({ ...target, body, rate: 50, connections: 32, durationSeconds: 3 }); // warm-up
    const runs: Record<string, Record<number, LoadResult[]>> = {};
    for (let rep = 0; rep < repetitions; rep++)
      for (const rate of rates)
        for (const [name, target] of Object.entries(targets)) {
          const run = await runLoad({
            ...target,
            body,
            rate,
            connections: 256,
            durationSeconds: seconds,
          });
          ((runs[name] ??= {})[rate] ??= []).push(run);
        }
    const summary = Object.fromEntries(
      Object.keys(targets).map((name) => {
        const rows = rates.map((rate) => {
          const mine = runs[name]![rate]!;
          const direct = runs['direct']![rate]!;
          const failed = Math.max(...mine.map((r) => r.non_2xx + r.errors + r.failed));
          return {
            rate,
            achieved_rps: median(mine.map((r) => r.achieved_rps)),
            failed,
            added_p50_ms: Math.round(median(mine.map((r, i) => r.p50_ms - direct[i]!.p50_ms))),
            added_p99_ms: Math.round(median(mine.map((r, i) => r.p99_ms - direct[i]!.p99_ms))),
            cpu_ms_per_request: median(mine.map((r) => r.cpu_ms_per_request?.['total'] ?? NaN)),
            // Less what every target shares (the upstream and the load generator).
            own_cpu_ms_per_request: median(
              mine.map((r) => {
                const cpu = r.cpu_ms_per_request ?? {};
                return (cpu['total'] ?? NaN) - (cpu['upstream'] ?? 0) - (cpu['bench'] ?? 0);
              }),
            ),
          };
        });
        const sustained = rows.filter(
          (r) => r.added_p99_ms < 50 && r.failed === 0 && r.achieved_rps >= r.rate * 0.97,
        );
        return [
          name,
          { highest_rate_added_p99_under_50ms: Math.max(0, ...sustained.map((r) => r.rate)), rows },
        ];
      }),
    );
    process.stdout.write(
      `${JSON.stringify({ benchmark: 'chat-peers', upstream_delay_ms: UPSTREAM_DELAY_MS, seconds, repetitions, notes, summary, runs }, null, 1)}\n`,
    );
  } finally {
    for (const target of Object.values(targets)) await target.stop();
    upstream.child.kill('SIGTERM');
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
