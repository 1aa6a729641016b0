import { sql } from 'drizzle-orm';
import { openPglite, openPgliteThread, rowsOf, withoutTenant, type Database } from '../../src';

/** The longest gap between ticks of a 5 ms timer while `work` runs. */
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 5);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(longest, performance.now() - last);
}

// A statement that keeps PostgreSQL busy for a while (hundreds of ms here).
const heavy = sql`select count(*) from generate_series(1, 3000000) g where g % 7 = 3`;

describe('PGlite on its own thread', () => {
  let database: Database;

  beforeAll(async () => {
    database = await openPgliteThread();
    await database.db.execute(sql`create table items (id int primary key, name text not null)`);
  });
  afterAll(() => database.close());

  it('keeps the event loop free while a statement runs, where PGlite in-thread froze it', async () => {
    const inThread = await openPglite();
    try {
      const started = performance.now();
      const frozen = await longestStall(() => inThread.db.execute(heavy));
      const took = performance.now() - started;
      // The same statement on the main thread stalls timers for about its whole run.
      expect(frozen).toBeGreaterThan(took * 0.6);
      const free = await longestStall(() => database.db.execute(heavy));
      expect(free).toBeLessThan(Math.max(60, took * 0.3));
    } finally {
      await inThread.close();
    }
  }, 60_000);

  it('runs nothing of another caller inside an open transaction', async () => {
    // The transaction fails after a concurrent autocommit insert was sent: had that insert run
    // inside the transaction, the rollback would have taken it away too.
    const failing = database.db.transaction(async (tx) => {
      await tx.execute(sql`insert into items values (1, 'in the transaction')`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await tx.execute(sql`insert into items values (1, 'duplicate')`);
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    const outside = database.db.execute(sql`insert into items values (2, 'outside')`);
    await expect(failing).rejects.toThrow();
    await outside;
    const rows = rowsOf<{ id: number }>(await database.db.execute(sql`select id from items`));
    expect(rows.map((r) => r.id)).toEqual([2]);
  });

  it('carries PostgreSQL error fields across the thread', async () => {
    const err = await database.db
      .execute(sql`insert into items values (2, 'again')`)
      .then(() => undefined)
      .catch((e: unknown) => (e as { cause?: unknown }).cause);
    // Drizzle wraps the driver's error; its cause is what PGlite threw in the worker.
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: '23505', constraint: 'items_pkey' });
  });

  it('answers what in-thread PGlite answers, types included', async () => {
    const inThread = await openPglite();
    try {
      const query = sql`select 1::int as n, 'x'::text as t, now() as at, '{"a":[1]}'::jsonb as j,
        '\\x0102'::bytea as b, 12345678901::bigint as big, interval '1 day' as i, null as nothing`;
      const [mine] = rowsOf<Record<string, unknown>>(await database.db.execute(query));
      const [theirs] = rowsOf<Record<string, unknown>>(await inThread.db.execute(query));
      expect(Object.keys(mine!)).toEqual(Object.keys(theirs!));
      for (const key of Object.keys(theirs!))
        if (key !== 'at') expect(mine![key]).toEqual(theirs![key]);
      expect(typeof mine!['at']).toBe(typeof theirs!['at']);
    } finally {
      await inThread.close();
    }
  });

  it('runs many concurrent transactions one at a time, each whole', async () => {
    await database.db.execute(sql`create table counter (n int not null)`);
    await database.db.execute(sql`insert into counter values (0)`);
    await Promise.all(
      Array.from({ length: 50 }, () =>
        withoutTenant(database.db, async (tx) => {
          const [row] = rowsOf<{ n: number }>(await tx.execute(sql`select n from counter`));
          await tx.execute(sql`update counter set n = ${row!.n + 1}`);
        }),
      ),
    );
    const [row] = rowsOf<{ n: number }>(await database.db.execute(sql`select n from counter`));
    expect(row!.n).toBe(50);
  });

  it('refuses statements once closed instead of leaving them waiting', async () => {
    const closing = await openPgliteThread();
    await closing.close();
    const err = await closing.db.execute(sql`select 1`).catch((e: unknown) => e as Error);
    expect((err as Error).cause).toEqual(new Error('the embedded database thread stopped'));
  });
});

describe('PGlite on its own thread, maintained', () => {
  let database: Database;

  beforeAll(async () => {
    // A short interval keeps the test short (the default is 10 s).
    database = await openPgliteThread({ maintenanceEveryMs: 100 });
    await database.db.execute(sql.raw(`create role maintained_app nologin`));
    await database.db.execute(sql.raw(`create table jobs (id int primary key, state text)`));
    await database.db.execute(sql.raw(`grant select, insert, update on jobs to maintained_app`));
    await database.db.execute(sql.raw(`set role maintained_app`));
  });
  afterAll(() => database.close());

  const activity = async () =>
    rowsOf<{ analyzed: boolean; vacuumed: boolean; dead: number; role: string }>(
      await database.db.execute(
        sql`select last_analyze is not null as analyzed, last_vacuum is not null as vacuumed,
          n_dead_tup::int as dead, current_user as role
          from pg_stat_user_tables where relname = 'jobs'`,
      ),
    )[0]!;

  it('analyzes and vacuums a busy table by itself, as autovacuum would, and keeps the session role', async () => {
    await database.db.execute(
      sql`insert into jobs select g, 'queued' from generate_series(1, 5000) g`,
    );
    await database.db.execute(sql`update jobs set state = 'done' where id <= 3000`);
    const deadline = Date.now() + 20_000;
    let seen = await activity();
    while (!(seen.analyzed && seen.vacuumed && seen.dead === 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      seen = await activity();
    }
    expect(seen).toEqual({ analyzed: true, vacuumed: true, dead: 0, role: 'maintained_app' });
    // Row-level work is still the app role's: it cannot do what only the owner may.
    await expect(database.db.execute(sql`delete from jobs`)).rejects.toThrow();
  }, 30_000);

  it('keeps maintaining a big table while a churning one is always the most overdue', async () => {
    // As the outbox (rows written and deleted by every task) beside the tasks: one table per pass
    // left the tasks unanalyzed for good, and every task write slowed as the table grew.
    await database.db.execute(sql.raw(`reset role`));
    await database.db.execute(sql.raw(`create table churn (id int primary key)`));
    await database.db.execute(sql.raw(`create table big (id int primary key, state text)`));
    await database.db.execute(
      sql.raw(`grant select, insert, update, delete on churn, big to maintained_app`),
    );
    await database.db.execute(sql.raw(`set role maintained_app`));
    await database.db.execute(
      sql`insert into big select g, 'queued' from generate_series(1, 20000) g`,
    );
    const analyzedBig = async () =>
      rowsOf<{ analyzed: boolean }>(
        await database.db.execute(
          sql`select last_analyze is not null as analyzed from pg_stat_user_tables where relname = 'big'`,
        ),
      )[0]!.analyzed;
    let churning = true;
    const churn = (async () => {
      for (let round = 0; churning; round++) {
        await database.db.execute(
          sql`insert into churn select g from generate_series(${round * 500}::int, ${round * 500 + 499}::int) g`,
        );
        await database.db.execute(sql`delete from churn`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const deadline = Date.now() + 15_000;
    let analyzed = false;
    while (!analyzed && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      analyzed = await analyzedBig();
    }
    churning = false;
    await churn;
    expect(analyzed).toBe(true);
  }, 30_000);

  it('waits for an open transaction: maintenance never runs inside one', async () => {
    const inside = database.db.transaction(async (tx) => {
      await tx.execute(sql`update jobs set state = 'again' where id <= 3000`);
      // Several maintenance intervals pass while the transaction is open.
      await new Promise((resolve) => setTimeout(resolve, 400));
      return rowsOf<{ role: string }>(await tx.execute(sql`select current_user as role`))[0]!;
    });
    await expect(inside).resolves.toEqual({ role: 'maintained_app' });
  });
});
