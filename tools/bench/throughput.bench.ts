/**
 * Local task throughput (target: at least 200 tasks/s sustained with p95 under 50 ms):
 * summarize_text tasks end to end through the gateway (POST /v1/tasks with Prefer: wait, so a
 * response is the finished result), orchestrator and module-host as separate production
 * processes on PostgreSQL, Redis and Kafka, all on this machine.
 * Fixed rates first (default 25,50,75,100,200 tasks/s), then as fast as 32 clients can go.
 *   npm run infra:up && npx tsx tools/bench/throughput.bench.ts [rate,rate,...] [seconds]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runLoad, startStack, type LoadResult } from './support';

const rates = (process.argv[2] ?? '25,50,75,100,200').split(',').map(Number);
const seconds = Number(process.argv[3] ?? '20');
const TEXT =
  'Aion keeps data in the jurisdiction its owner chose. Every routing decision names the rule that made it. ' +
  'Budgets are reserved before a task runs and settled after it. Modules run in a WebAssembly sandbox with no network. ' +
  'Operators read every state change as an event. The weather was unremarkable that week.';

async function main() {
  const scratch = mkdtempSync(path.join(tmpdir(), 'aion-bench-throughput-'));
  const engines = path.join(scratch, 'engines.yaml');
  writeFileSync(
    engines,
    'engines:\n  - { name: local-summarize, tier: local, kind: module, module: summarize_text, intents: [summarize], jurisdiction: DE, region: local, price_per_1k_tokens: { input: 0, output: 0 } }\n',
  );
  const stack = await startStack(engines);
  /** Why tasks did not end OK, with how often, reported with the results. */
  const failures = new Map<string, number>();
  try {
    const created = await fetch(`${stack.gateway}/api/v1/auth/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench', role: 'developer' }),
    });
    const { key } = (await created.json()) as { key: string };
    const load = (rate: number | undefined, connections: number, durationSeconds: number) =>
      runLoad({
        url: `${stack.gateway}/v1/tasks`,
        body: JSON.stringify({
          intent: 'summarize',
          params: { text: TEXT, max_sentences: 2 },
          sla: { privacy: 'local-only' },
          data_context: { jurisdiction: 'DE', classification: 'none' },
        }),
        headers: { authorization: `Bearer ${key}`, prefer: 'wait=10' },
        // A task that ended in ERROR answered quickly but did no work: it counts as failed.
        succeeded: (body) => {
          const task = JSON.parse(body) as { status?: string; error?: { message?: string } };
          if (task.status === 'OK') return true;
          const why = `${task.status}: ${task.error?.message ?? 'no error given'}`;
          failures.set(why, (failures.get(why) ?? 0) + 1);
          return false;
        },
        ...(rate ? { rate } : {}),
        cpu: stack.processes,
        connections,
        durationSeconds,
      });
    await load(100, 16, 5); // warm-up: JIT, connection pools, module cache
    const runs: LoadResult[] = [];
    for (const rate of rates) runs.push(await load(rate, 128, seconds));
    runs.push(await load(undefined, 32, seconds));
    const failed = await fetch(`${stack.gateway}/v1/tasks?status=ERROR&limit=1`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const { total: errorTasks } = (await failed.json()) as { total: number };
    process.stdout.write(
      `${JSON.stringify({
        benchmark: 'local-task-throughput',
        target: { tasks_per_second: 200, p95_ms: 50 },
        highest_rate_with_p95_under_50ms: Math.max(
          0,
          ...runs
            .filter(
              (r) =>
                typeof r.offered_rps === 'number' &&
                r.p95_ms < 50 &&
                r.non_2xx + r.failed + r.errors === 0 &&
                r.achieved_rps >= r.offered_rps * 0.97,
            )
            .map((r) => r.offered_rps as number),
        ),
        tasks_ending_in_error: errorTasks,
        failure_reasons: Object.fromEntries([...failures].sort((a, b) => b[1] - a[1]).slice(0, 5)),
        runs,
      })}\n`,
    );
  } finally {
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
