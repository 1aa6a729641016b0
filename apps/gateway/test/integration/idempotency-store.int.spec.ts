import path from 'node:path';
import {
  migratePglite,
  migratePostgres,
  openPglite,
  openPostgres,
  rowsOf,
  sql,
  withoutTenant,
  withTenant,
  type Database,
} from '@aion/db';
import { createTestDatabase } from '@aion/testing';
import { idempotencyScope, type IdempotencyScope } from '../../src/core/idempotency';
import { PostgresIdempotencyStore } from '../../src/adapters/db/idempotency-store';

const MIGRATIONS = path.resolve(__dirname, '..', '..', 'migrations');
const HOUR = 3_600_000;

interface Subject {
  database: Database;
  /** Runs a statement as the schema owner (no row-level security). */
  asOwner(text: string, values?: unknown[]): Promise<unknown[]>;
  close(): Promise<void>;
}

const backends: [string, () => Promise<Subject>][] = [
  [
    'PGlite (embedded)',
    async () => {
      const database = await openPglite();
      await migratePglite(database, [{ folder: MIGRATIONS, prefix: 'gw' }], {
        appRole: 'aion_app',
      });
      return {
        database,
        asOwner: async (text, values = []) => {
          await database.client.query('reset role');
          try {
            return (await database.client.query(text, values)).rows;
          } finally {
            await database.client.query('set role aion_app');
          }
        },
        close: () => database.close(),
      };
    },
  ],
  [
    'PostgreSQL',
    async () => {
      const testDb = await createTestDatabase('gwidem');
      await migratePostgres(
        testDb.ownerUrl,
        { folder: MIGRATIONS, prefix: 'gw' },
        { appRole: testDb.appRole },
      );
      const database = openPostgres({ url: testDb.appUrl, max: 3 });
      return {
        database,
        asOwner: (text, values) => testDb.queryAsOwner(text, values),
        close: async () => {
          await database.close();
          await testDb.drop();
        },
      };
    },
  ],
];

const scope = (tenant: string, key: string): IdempotencyScope =>
  idempotencyScope(tenant, 'key:1', 'POST', '/v1/tasks', key);
const answer = { status: 202, body: { task_id: 'abc' }, headers: { location: '/v1/tasks/abc' } };

describe.each(backends)('gw_idempotency_keys on %s', (_name, open) => {
  let subject: Subject;
  let store: PostgresIdempotencyStore;
  beforeAll(async () => {
    subject = await open();
    store = new PostgresIdempotencyStore(subject.database.db);
  });
  afterAll(() => subject?.close());

  it('claims a key once; repeats see the record, and its answer once stored', async () => {
    const key = scope('t1', 'first');
    expect(await store.claim(key, 'h1', HOUR, 60_000)).toBeUndefined();
    expect(await store.claim(key, 'h1', HOUR, 60_000)).toEqual({ requestHash: 'h1', leased: true });
    await store.complete(key, answer, 'abc');
    expect(await store.claim(key, 'h2', HOUR, 60_000)).toEqual({
      requestHash: 'h1',
      leased: false,
      response: answer,
    });
    const [row] = (await subject.asOwner(
      `select task_id, response_status, expires_at - created_at as ttl from gw_idempotency_keys where key_hash = $1`,
      [key.keyHash],
    )) as { task_id: string; response_status: number }[];
    expect(row).toMatchObject({ task_id: 'abc', response_status: 202 });
  });

  it('keeps a released record (its task may exist) and forgets a forgotten one', async () => {
    const kept = scope('t1', 'released');
    await store.claim(kept, 'h', HOUR, 60_000);
    await store.release(kept, 'task-1');
    expect(await store.claim(kept, 'h', HOUR, 60_000)).toEqual({ requestHash: 'h', leased: false });
    const gone = scope('t1', 'forgotten');
    await store.claim(gone, 'h', HOUR, 60_000);
    await store.forget(gone);
    expect(await store.claim(gone, 'other', HOUR, 60_000)).toBeUndefined();
  });

  it('lets exactly one repeat take over a record nobody holds', async () => {
    const key = scope('t1', 'retake');
    await store.claim(key, 'h', HOUR, 60_000);
    expect(await store.retake(key, 60_000)).toBe(false);
    await store.release(key);
    const takers = await Promise.all([store.retake(key, 60_000), store.retake(key, 60_000)]);
    expect(takers.sort()).toEqual([false, true]);
    // A lease that lapsed (its gateway died) is nobody's either.
    const lapsed = scope('t1', 'lapsed');
    await store.claim(lapsed, 'h', HOUR, 0);
    expect(await store.claim(lapsed, 'h', HOUR, 0)).toMatchObject({ leased: false });
    expect(await store.retake(lapsed, 60_000)).toBe(true);
  });

  it('keeps tenants apart: the same key and principal are two records', async () => {
    const mine = scope('t1', 'shared');
    const theirs = scope('t2', 'shared');
    expect(mine.keyHash).toBe(theirs.keyHash);
    await store.claim(mine, 'h-mine', HOUR, 60_000);
    expect(await store.claim(theirs, 'h-theirs', HOUR, 60_000)).toBeUndefined();
    expect(await store.claim(mine, 'h-mine', HOUR, 60_000)).toMatchObject({
      requestHash: 'h-mine',
    });
  });

  it('treats an expired record as absent and purges expired ones of every tenant', async () => {
    const expired = scope('t3', 'expired');
    await store.claim(expired, 'old', 0, 0);
    await store.complete(expired, answer);
    // Past its expiry a claim starts afresh, with the new payload.
    expect(await store.claim(expired, 'new', 0, 60_000)).toBeUndefined();
    await store.claim(scope('t4', 'expired'), 'old', 0, 0);
    const live = scope('t3', 'live');
    await store.claim(live, 'h', HOUR, 60_000);
    expect(await store.purgeExpired(1_000)).toBeGreaterThanOrEqual(2);
    const left = (await subject.asOwner(
      `select tenant_id from gw_idempotency_keys where expires_at <= now()`,
    )) as unknown[];
    expect(left).toEqual([]);
    expect(await store.claim(live, 'h', HOUR, 60_000)).toMatchObject({ requestHash: 'h' });
  });

  it('lets no statement outside the purge see another tenant or write without one', async () => {
    await store.claim(scope('t5', 'rls'), 'h', HOUR, 60_000);
    const db = subject.database.db;
    const seen = await withTenant(db, 't6', (tx) =>
      tx.execute(sql`select count(*)::int as n from gw_idempotency_keys`),
    );
    expect(rowsOf<{ n: number }>(seen)[0]!.n).toBe(0);
    const none = await withoutTenant(db, (tx) =>
      tx.execute(sql`select count(*)::int as n from gw_idempotency_keys`),
    );
    expect(rowsOf<{ n: number }>(none)[0]!.n).toBe(0);
    await expect(
      withTenant(db, 't6', (tx) =>
        tx.execute(
          sql`insert into gw_idempotency_keys (tenant_id, key_hash, request_hash, expires_at) values ('t5', 'x', 'h', now())`,
        ),
      ),
    ).rejects.toThrow();
  });
});
