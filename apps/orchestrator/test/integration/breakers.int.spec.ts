import { AionError } from '@aion/errors';
import { BreakerRegistry, type BreakerStateStore } from '@aion/resilience';
import { migratePglite, openPglite } from '@aion/db';
import { createTestDatabase, type TestDatabase } from '@aion/testing';
import { PostgresBreakerStore } from '../../src/adapters/db/breaker-store';
import { countsAgainstEngine } from '../../src/core/engine-health';
import type { TaskRecord } from '../../src/core/ports';
import type { TaskService } from '../../src/core/task-service';
import {
  as,
  migrate,
  migrations,
  ScriptedEngines,
  summarize,
  taskReplica,
} from './support/replica';

const HALF_OPEN_MS = 600;
let testDb: TestDatabase;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase('breakers');
  await migrate(testDb);
});

afterAll(async () => {
  for (const close of closers) await close();
  await testDb.drop();
});

/** Counts the statements a replica's breakers send to the shared table. */
function watched(store: BreakerStateStore, calls: string[]): BreakerStateStore {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(key));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** An orchestrator replica: its own pool, task service and breakers on the shared database. */
function replica(name: string, failing: Map<string, Error>, storeCalls: string[] = []) {
  const engines = new ScriptedEngines(failing);
  const built = taskReplica(
    testDb,
    engines,
    (db) =>
      new BreakerRegistry(
        { consecutiveFailures: 2, halfOpenAfterMs: HALF_OPEN_MS, isFailure: countsAgainstEngine },
        undefined,
        { store: watched(new PostgresBreakerStore(db), storeCalls), replica: name },
      ),
  );
  closers.push(() => built.database.close());
  return { ...built, engines, storeCalls };
}

async function run(tasks: TaskService, tenantId: string, id: string): Promise<TaskRecord> {
  const { record } = await as(tenantId, () => tasks.submit(summarize(id)));
  return as(tenantId, () => tasks.awaitEnd(record, 10_000, new AbortController().signal));
}

const row = async () =>
  (
    await testDb.queryAsOwner<{ state: string; opened: string; trial_by: string | null }>(
      `select state, opened::text, trial_by from orc_circuit_breakers where name = 'flaky-sum'`,
    )
  )[0];

const down = () => new AionError('service.unavailable', 'engine flaky-sum is unreachable');

describe('circuit breakers shared by orchestrator replicas (PostgreSQL)', () => {
  it('opens on one replica for all, closes for all after one trial, and resets for all', async () => {
    const failing = new Map([['flaky-sum', down()]]);
    const a = replica('replica-a', failing);
    const b = replica('replica-b', failing);

    // Replica A: two failures open the breaker; both tasks fall back to steady-sum.
    for (const id of ['t1', 't2'])
      expect(await run(a.tasks, 'acme', id)).toMatchObject({
        status: 'OK',
        engine: { name: 'steady-sum' },
      });
    expect(a.breakers.state('flaky-sum')).toBe('open');
    expect(await row()).toMatchObject({ state: 'open', opened: '1' });

    // Replica B hears of it and no longer routes there: the router leaves it out.
    await b.breakers.sync();
    expect(b.breakers.isOpen('flaky-sum')).toBe(true);
    const t3 = await run(b.tasks, 'globex', 't3');
    expect(t3.engine).toMatchObject({ name: 'steady-sum' });
    expect(t3.engine!.reason).toMatch(/^cheapest allowed engine: steady-sum/);
    expect(b.engines.calls).toEqual(['steady-sum']);
    expect(b.breakers.list()[0]).toMatchObject({ name: 'flaky-sum', state: 'open', opened: 1 });

    // The engine recovers. After the wait the router offers it again, and one trial closes it.
    failing.delete('flaky-sum');
    await new Promise((r) => setTimeout(r, HALF_OPEN_MS + 50));
    expect(b.breakers.isOpen('flaky-sum')).toBe(false);
    expect(await run(b.tasks, 'globex', 't4')).toMatchObject({
      status: 'OK',
      engine: { name: 'flaky-sum' },
    });
    expect(b.breakers.state('flaky-sum')).toBe('closed');
    expect(await row()).toMatchObject({ state: 'closed', trial_by: null });
    await a.breakers.sync();
    expect(a.breakers.state('flaky-sum')).toBe('closed');
    expect(await run(a.tasks, 'acme', 't5')).toMatchObject({ engine: { name: 'flaky-sum' } });

    // Open again through A; a reset on A closes it on B too, counts included.
    failing.set('flaky-sum', down());
    for (const id of ['t6', 't7']) await run(a.tasks, 'acme', id);
    await b.breakers.sync();
    expect(b.breakers.isOpen('flaky-sum')).toBe(true);
    expect(await a.breakers.resetAll()).toContain('flaky-sum');
    await b.breakers.sync();
    expect(b.breakers.isOpen('flaky-sum')).toBe(false);
    expect(b.breakers.list().find((s) => s.name === 'flaky-sum')).toMatchObject({
      state: 'closed',
      failures: 0,
      opened: 0,
    });
  });

  it('reaches a replica through its sync loop, and routing never reads the table', async () => {
    const failing = new Map([['flaky-sum', down()]]);
    const a = replica('replica-c', failing);
    const bCalls: string[] = [];
    const b = replica('replica-d', failing, bCalls);
    await a.breakers.resetAll();
    await b.breakers.sync();
    const stop = b.breakers.syncEvery(50);
    try {
      bCalls.length = 0;
      // 20 tasks on B with a closed breaker: not one statement on the breaker table.
      failing.delete('flaky-sum');
      await Promise.all(Array.from({ length: 20 }, (_, i) => run(b.tasks, 'acme', `quiet-${i}`)));
      expect(bCalls.filter((c) => c !== 'list' && c !== 'addCounts')).toEqual([]);

      failing.set('flaky-sum', down());
      for (const id of ['loop-1', 'loop-2']) await run(a.tasks, 'acme', id);
      const opened = Date.now();
      while (!b.breakers.isOpen('flaky-sum') && Date.now() - opened < 2_000)
        await new Promise((r) => setTimeout(r, 10));
      expect(b.breakers.isOpen('flaky-sum')).toBe(true);
      // Seen within a couple of sync intervals, not per task.
      expect(Date.now() - opened).toBeLessThan(500);
      // B's syncs only read and add counts; nothing per task.
      expect(new Set(bCalls)).toEqual(new Set(['list', 'addCounts']));
    } finally {
      await stop();
    }
  });
});

type Pair = [PostgresBreakerStore, PostgresBreakerStore];

describe.each([
  [
    'PostgreSQL',
    async (): Promise<Pair> => [
      new PostgresBreakerStore(replica('store-a', new Map()).database.db),
      new PostgresBreakerStore(replica('store-b', new Map()).database.db),
    ],
  ],
  [
    'PGlite (the embedded default)',
    async (): Promise<Pair> => {
      const database = await openPglite();
      await migratePglite(database, [migrations], { appRole: 'aion_app' });
      closers.push(() => database.close());
      return [new PostgresBreakerStore(database.db), new PostgresBreakerStore(database.db)];
    },
  ],
])('the shared breaker table on %s', (_, open: () => Promise<Pair>) => {
  it('lets exactly one replica claim a trial, and refuses changes from one that holds none', async () => {
    const [a, b] = await open();
    const name = 'race-engine';
    const change = { halfOpenAfterMs: 0, lastFailure: 'HTTP 503' };
    const [first, second] = await Promise.all([
      a.open(name, { ...change, replica: 'a' }),
      b.open(name, { ...change, replica: 'b' }),
    ]);
    // Both see it open, opened once: the second opening found it open already.
    expect([first.state, second.state]).toEqual(['open', 'open']);
    expect(Math.max(first.opened, second.opened)).toBe(1);

    const claims = await Promise.all([
      a.claimTrial(name, { replica: 'a', leaseMs: 60_000 }),
      b.claimTrial(name, { replica: 'b', leaseMs: 60_000 }),
    ]);
    expect(claims.filter((c) => c.claimed)).toHaveLength(1);
    const winner = claims.find((c) => c.claimed)!.record!;
    const loser = winner.trialBy === 'a' ? 'b' : 'a';
    // Only the trial's holder closes it, and only under its claim's version.
    expect(await a.close(name, { replica: loser, trialVersion: winner.version })).toMatchObject({
      state: 'half_open',
      trialBy: winner.trialBy,
    });
    expect(
      await a.close(name, { replica: winner.trialBy!, trialVersion: winner.version - 1 }),
    ).toMatchObject({ state: 'half_open' });
    expect(
      await b.close(name, { replica: winner.trialBy!, trialVersion: winner.version }),
    ).toMatchObject({ state: 'closed', version: winner.version + 1 });

    // Counts gathered before a reset are dropped; later ones add up.
    const before = (await a.list()).find((r) => r.name === name)!;
    await b.resetAll('b');
    await a.addCounts([
      { name, resets: before.resets, successes: 5, failures: 1, rejections: 0, lastFailure: 'x' },
    ]);
    await a.addCounts([
      {
        name,
        resets: before.resets + 1,
        successes: 2,
        failures: 0,
        rejections: 3,
        lastFailure: undefined,
      },
    ]);
    expect((await b.list()).find((r) => r.name === name)).toMatchObject({
      state: 'closed',
      resets: before.resets + 1,
      successes: 2,
      failures: 0,
      rejections: 3,
      lastFailure: undefined,
      opened: 0,
    });
  });
});
