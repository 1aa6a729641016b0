import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { startLocalPostgres, stopLocalPostgres, type LocalPostgres } from '@aion/testing';
import { openPostgres, withoutTenant, type Database } from '../../src';

// A database restart or failover under load (issue 19): a connection that dies while a
// transaction holds it must fail that transaction, not the process, and the pool must serve
// again once the server is back. A private server, so that stopping it disturbs no other suite.
describe('a PostgreSQL restart while transactions are in flight', () => {
  let stackDir: string;
  let pg: LocalPostgres;
  let database: Database;

  beforeAll(async () => {
    stackDir = mkdtempSync(path.join(os.tmpdir(), 'aion-pg-restart-'));
    pg = await startLocalPostgres(stackDir);
    database = openPostgres({ url: pg.adminUrl, max: 4 });
  }, 60_000);

  afterAll(async () => {
    await database.close().catch(() => undefined);
    stopLocalPostgres(pg);
    rmSync(stackDir, { recursive: true, force: true });
  });

  it('fails the transactions that held a connection, keeps the process, and serves after the restart', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const inFlight = Array.from({ length: 3 }, () =>
        withoutTenant(database.db, (tx) => tx.execute(sql`select pg_sleep(30)`)).then(
          () => 'committed',
          (err: Error) => err.message,
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      stopLocalPostgres(pg);
      const outcomes = await Promise.all(inFlight);
      expect(outcomes.every((o) => o !== 'committed')).toBe(true);
      await expect(withoutTenant(database.db, (tx) => tx.execute(sql`select 1`))).rejects.toThrow();

      pg = await startLocalPostgres(stackDir, { port: pg.port });
      const answer = await withoutTenant(database.db, (tx) => tx.execute(sql`select 42 as n`));
      expect((answer as unknown as { rows: { n: number }[] }).rows[0]?.n).toBe(42);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  }, 90_000);
});
