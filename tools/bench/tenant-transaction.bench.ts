/**
 * A tenant transaction's cost on real PostgreSQL, one transaction at a time: the shape of a
 * task write (tenant setting, a row, an outbox-like second row issued without waiting for the
 * first). `round-trip-each` is how Drizzle's own transaction runs it (begin, setting, each
 * statement and commit awaited one by one); `pipelined` is `withTenant` (begin and setting go
 * out with the first statements without waiting for answers). Reports latency and the CPU each transaction
 * costs this process and the PostgreSQL server.
 *   npm run infra:up && source .infra/env && node tools/bench/run.mjs tenant-transaction
 */
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { migratePostgres, openPostgres, withTenant, type Db, type Tx } from '@aion/db';
import { setTenantStatement } from '@aion/tenancy';
import { createTestDatabase } from '@aion/testing';
import { cpuSnapshot } from './cpu';

const ROUNDS = 5;
const PER_ROUND = Number(process.argv[2] ?? '2000');
const fixtures = path.join(process.cwd(), 'libs', 'db', 'test', 'fixtures', 'migrations');

type Variant = (db: Db, tenant: string, body: string) => Promise<unknown>;

const writes = (tx: Tx, tenant: string, body: string) =>
  Promise.all([
    tx.execute(sql`insert into tst_notes (tenant_id, body) values (${tenant}, ${body})`),
    tx.execute(sql`insert into tst_notes (tenant_id, body) values (${tenant}, ${`${body}-event`})`),
  ]);

const variants: Record<string, Variant> = {
  'round-trip-each': (db, tenant, body) =>
    db.transaction(async (tx) => {
      await tx.execute(setTenantStatement(tenant));
      await tx.execute(sql`insert into tst_notes (tenant_id, body) values (${tenant}, ${body})`);
      await tx.execute(
        sql`insert into tst_notes (tenant_id, body) values (${tenant}, ${`${body}-event`})`,
      );
    }),
  pipelined: (db, tenant, body) => withTenant(db, tenant, (tx) => writes(tx, tenant, body)),
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

async function main() {
  const testDb = await createTestDatabase('bench_tx');
  await migratePostgres(
    testDb.ownerUrl,
    { folder: fixtures, prefix: 'tst' },
    { appRole: testDb.appRole },
  );
  const database = openPostgres({ url: testDb.appUrl, max: 2 });
  const groups = { postgres: /postgres: /, bench: [process.pid] };
  const results: Record<string, { p50_ms: number[]; p99_ms: number[]; cpu: number[][] }> = {};
  try {
    for (const run of Object.values(variants))
      for (let i = 0; i < 500; i++) await run(database.db, 'tenant-a', `warm-${i}`);
    for (let round = 0; round < ROUNDS; round++) {
      // Variants alternate within each round, so drift on a shared machine hits both alike.
      for (const [name, run] of Object.entries(variants)) {
        const latencies: number[] = [];
        const before = cpuSnapshot(groups);
        for (let i = 0; i < PER_ROUND; i++) {
          const started = performance.now();
          await run(database.db, 'tenant-a', `${name}-${round}-${i}`);
          latencies.push(performance.now() - started);
        }
        const after = cpuSnapshot(groups);
        latencies.sort((a, b) => a - b);
        const entry = (results[name] ??= { p50_ms: [], p99_ms: [], cpu: [] });
        entry.p50_ms.push(percentile(latencies, 0.5));
        entry.p99_ms.push(percentile(latencies, 0.99));
        entry.cpu.push([
          (after['bench']! - before['bench']!) / PER_ROUND,
          (after['postgres']! - before['postgres']!) / PER_ROUND,
        ]);
      }
    }
  } finally {
    await database.close();
    await testDb.drop();
  }
  const round3 = (n: number) => Math.round(n * 1000) / 1000;
  process.stdout.write(
    `${JSON.stringify({
      benchmark: 'tenant-transaction',
      rounds: ROUNDS,
      transactions_per_round: PER_ROUND,
      variants: Object.fromEntries(
        Object.entries(results).map(([name, r]) => [
          name,
          {
            median_p50_ms: round3(median(r.p50_ms)),
            median_p99_ms: round3(median(r.p99_ms)),
            median_cpu_ms_per_tx: {
              client: round3(median(r.cpu.map((c) => c[0]!))),
              postgres: round3(median(r.cpu.map((c) => c[1]!))),
            },
          },
        ]),
      ),
    })}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
