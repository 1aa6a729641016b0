/**
 * Gateway overhead: the same OpenAI chat-completions load sent directly to a local
 * OpenAI-compatible upstream (fixed 20 ms delay), through Aion's /v1/chat/completions (gateway,
 * orchestrator, PostgreSQL, Redis, Kafka: auth, rate limit, budget, routing, audit) and through
 * Portkey's open-source gateway (@portkey-ai/gateway), one after another on this machine.
 * Reports added p50/p99 over direct at fixed rates and the highest rate whose added p99 stays
 * under 10 ms.
 *   npm run infra:up && npx tsx tools/bench/overhead.bench.ts [rate,rate,...] [seconds]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPortkey } from './peers';
import { runLoad, startHelper, startStack, type LoadResult } from './support';

const rates = (process.argv[2] ?? '50,100,200,300,400,600').split(',').map(Number);
const seconds = Number(process.argv[3] ?? '10');
const UPSTREAM_DELAY_MS = 20;
const body = JSON.stringify({
  model: 'test-model',
  messages: [{ role: 'user', content: 'Say something short.' }],
});

async function main() {
  const upstream = await startHelper('upstream', [String(UPSTREAM_DELAY_MS)]);
  const upstreamUrl = upstream.info['url']!;
  const scratch = mkdtempSync(path.join(tmpdir(), 'aion-bench-overhead-'));
  const engines = path.join(scratch, 'engines.yaml');
  writeFileSync(
    engines,
    `engines:\n  - { name: upstream-llm, tier: cloud-standard, kind: openai-compatible, endpoint: "${upstreamUrl}", models: [test-model], intents: [chat], jurisdiction: DE, region: local, price_per_1k_tokens: { input: 0.0001, output: 0.0002 } }\n`,
  );
  const stack = await startStack(engines);
  const portkey = await startPortkey();
  try {
    // A budget, so every request reserves and commits against it.
    await fetch(`${stack.gateway}/api/v1/budget/limits`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${stack.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ limit_usd: 1_000_000 }),
    });
    const created = await fetch(`${stack.gateway}/api/v1/auth/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench', role: 'developer' }),
    });
    const { key } = (await created.json()) as { key: string };
    const targets = {
      direct: {
        url: `${upstreamUrl}/chat/completions`,
        headers: {},
        cpu: { upstream: [upstream.child.pid ?? 0], bench: [process.pid] },
      },
      aion: {
        url: `${stack.gateway}/v1/chat/completions`,
        headers: { authorization: `Bearer ${key}` },
        cpu: { ...stack.processes, upstream: [upstream.child.pid ?? 0] },
      },
      portkey: {
        url: `${portkey.url}/v1/chat/completions`,
        headers: {
          authorization: 'Bearer sk-bench',
          'x-portkey-provider': 'openai',
          'x-portkey-custom-host': upstreamUrl,
        },
        cpu: { portkey: [portkey.pid], upstream: [upstream.child.pid ?? 0], bench: [process.pid] },
      },
    } as const;
    const results: Record<string, LoadResult[]> = { direct: [], aion: [], portkey: [] };
    for (const target of Object.values(targets))
      await runLoad({ ...target, body, rate: 50, connections: 20, durationSeconds: 3 }); // warm-up
    for (const rate of rates)
      for (const [name, target] of Object.entries(targets))
        results[name]!.push(
          await runLoad({ ...target, body, rate, connections: 200, durationSeconds: seconds }),
        );
    const added = (name: 'aion' | 'portkey') =>
      rates.map((rate, i) => {
        const run = results[name]![i]!;
        const direct = results['direct']![i]!;
        return {
          rate,
          achieved_rps: run.achieved_rps,
          failed: run.non_2xx + run.errors,
          added_p50_ms: Math.round((run.p50_ms - direct.p50_ms) * 100) / 100,
          added_p99_ms: Math.round((run.p99_ms - direct.p99_ms) * 100) / 100,
          cpu_ms_per_request: run.cpu_ms_per_request,
        };
      });
    const summary = { aion: added('aion'), portkey: added('portkey') };
    const bestRate = (rows: ReturnType<typeof added>) =>
      Math.max(
        0,
        ...rows
          .filter((r) => r.added_p99_ms < 10 && r.failed === 0 && r.achieved_rps >= r.rate * 0.97)
          .map((r) => r.rate),
      );
    process.stdout.write(
      `${JSON.stringify({
        benchmark: 'gateway-overhead',
        upstream_delay_ms: UPSTREAM_DELAY_MS,
        seconds_per_rate: seconds,
        highest_rate_with_added_p99_under_10ms: {
          aion: bestRate(summary.aion),
          portkey: bestRate(summary.portkey),
        },
        added: summary,
        raw: results,
      })}\n`,
    );
  } finally {
    portkey.stop();
    upstream.child.kill('SIGTERM');
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
