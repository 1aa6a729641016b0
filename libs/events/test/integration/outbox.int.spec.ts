import { spawn } from 'node:child_process';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { TaskStatus } from '@aion/contracts';
import { migratePostgres, openPostgres, rowsOf, withTenant, type Database } from '@aion/db';
import { runWithTenant } from '@aion/tenancy';
import {
  createTestDatabase,
  eventually,
  testBrokers,
  uniqueName,
  type TestDatabase,
} from '@aion/testing';
import {
  decodeEnvelope,
  KafkaBus,
  OutboxRelay,
  OutboxWriter,
  processOnce,
  TOPICS,
  type EventBus,
  type IncomingEvent,
  type OutgoingMessage,
  type Subscription,
} from '../../src';
import { effects, orders, outbox } from '../fixtures/schema';

const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');
let testDb: TestDatabase;
let database: Database;
const buses: KafkaBus[] = [];
const writer = new OutboxWriter(outbox, 'aion/test');

function newBus(): KafkaBus {
  const bus = new KafkaBus({ brokers: testBrokers(), clientId: uniqueName('outbox-test') });
  buses.push(bus);
  return bus;
}

/** A state change and its event, committed together in one tenant transaction. */
async function placeOrder(tenantId: string, orderId: string): Promise<string> {
  return runWithTenant({ tenantId, subject: 'test', roles: [], requestId: orderId }, () =>
    withTenant(database.db, tenantId, async (tx) => {
      await tx.insert(orders).values({ id: orderId, tenantId, state: 'placed' });
      const [eventId] = await writer.add(tx, {
        type: 'task.state_changed',
        key: orderId,
        payload: { taskId: orderId, fromStatus: TaskStatus.QUEUED, toStatus: TaskStatus.OK },
      });
      return eventId!;
    }),
  );
}

/**
 * A consumer whose side effect and dedupe mark commit in one transaction: exactly-once effects.
 * Its in-memory deduper is disabled, as on a replica that just restarted and remembers nothing,
 * so every redelivery reaches the handler and only the database can stop a second effect.
 */
async function dedupingConsumer(groupId: string, deliveries: string[]): Promise<Subscription> {
  return newBus().subscribe({
    groupId,
    topics: [TOPICS.tasksLifecycle],
    deduper: { isProcessed: async () => false, markProcessed: async () => undefined },
    handler: async (e: IncomingEvent) => {
      // The topic may hold other suites' (or benchmarks') events from earlier runs: skip them
      // cheaply so reading the history does not eat the test's time.
      if (!/^tenant-[a-c]$/.test(e.envelope.tenantId)) return;
      deliveries.push(e.envelope.id);
      await withTenant(database.db, e.envelope.tenantId, async (tx) => {
        if (!(await processOnce(tx, 'tst_processed_events', groupId, e.envelope.id))) return;
        await tx.insert(effects).values({ tenantId: e.envelope.tenantId, eventId: e.envelope.id });
      });
    },
  });
}

/** A broker stand-in that records what it is given and answers only when `open` is called. */
function gatedBus() {
  const published: OutgoingMessage[][] = [];
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const bus: EventBus = {
    publish: async (messages) => {
      published.push(messages);
      await gate;
    },
    subscribe: () => Promise.reject(new Error('not a consumer')),
    ensureTopics: async () => undefined,
    ping: async () => undefined,
    close: async () => undefined,
  };
  return { bus, published, open: () => open() };
}

/** Sessions of the test database (other than the asking one) inside a transaction for over 1 s. */
async function longTransactions(): Promise<string[]> {
  const result = await database.db.execute(sql`
    select state from pg_stat_activity
    where datname = current_database() and pid <> pg_backend_pid()
      and xact_start < now() - interval '1 second'`);
  return rowsOf<{ state: string }>(result).map((r) => r.state);
}

async function effectCount(tenantId: string, eventId: string): Promise<number> {
  const rows = await withTenant(database.db, tenantId, (tx) =>
    tx.select().from(effects).where(eq(effects.eventId, eventId)),
  );
  return rows.length;
}

beforeAll(async () => {
  testDb = await createTestDatabase('outbox');
  await migratePostgres(
    testDb.ownerUrl,
    { folder: path.join(__dirname, '..', 'fixtures', 'migrations'), prefix: 'tst' },
    { appRole: testDb.appRole },
  );
  database = openPostgres({ url: testDb.appUrl, max: 8 });
  await newBus().ensureTopics([TOPICS.tasksLifecycle]);
});

afterAll(async () => {
  await Promise.all(buses.map((b) => b.close()));
  await database.close();
  await testDb.drop();
});

describe('transactional outbox', () => {
  it('writes nothing when the state change rolls back', async () => {
    const relay = new OutboxRelay({ db: database.db, table: outbox, bus: newBus() });
    const before = await relay.pendingCount();
    await expect(
      withTenant(database.db, 'tenant-a', async (tx) => {
        await writer.add(tx, {
          type: 'task.state_changed',
          key: 'x',
          tenantId: 'tenant-a',
          payload: { taskId: 'x' },
        });
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    expect(await relay.pendingCount()).toBe(before);
  });

  it('survives a relay killed between publish and mark: the event arrives and is processed exactly once', async () => {
    const groupId = uniqueName('billing');
    const deliveries: string[] = [];
    const consumer = await dedupingConsumer(groupId, deliveries);

    // Committed state change; no relay has run yet (a crash between commit and publish loses nothing).
    const eventId = await placeOrder('tenant-a', uniqueName('order'));

    // A relay publishes it and is SIGKILLed before marking the row.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'crashing-relay.ts')],
      {
        cwd: repoRoot,
        env: { ...process.env, NODE_OPTIONS: '', TEST_APP_URL: testDb.appUrl },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, sig) => resolve(sig)),
    );
    expect(signal).toBe('SIGKILL');

    await eventually(() => deliveries.includes(eventId), 45_000);
    const relay = new OutboxRelay({ db: database.db, table: outbox, bus: newBus() });
    expect(await relay.pendingCount()).toBeGreaterThanOrEqual(1);

    // A fresh relay publishes the unmarked row again: a second delivery of the same event id.
    await relay.flush(20_000);
    expect(await relay.pendingCount()).toBe(0);
    await eventually(() => deliveries.filter((id) => id === eventId).length === 2, 30_000);
    expect(await effectCount('tenant-a', eventId)).toBe(1);
    await consumer.stop();
  });

  it('publishes every event once with several relays running at the same time', async () => {
    const groupId = uniqueName('audit');
    const deliveries: string[] = [];
    const consumer = await dedupingConsumer(groupId, deliveries);
    const relays = [1, 2, 3].map(
      () =>
        new OutboxRelay({
          db: database.db,
          table: outbox,
          bus: newBus(),
          pollIntervalMs: 20,
          batchSize: 25,
        }),
    );
    relays.forEach((r) => r.start());
    const ids = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        placeOrder(i % 2 ? 'tenant-a' : 'tenant-b', uniqueName(`o${i}`)),
      ),
    );
    relays.forEach((r) => r.nudge());
    await eventually(() => ids.every((id) => deliveries.includes(id)), 60_000);
    await Promise.all(relays.map((r) => r.stop()));
    const counts = new Map<string, number>();
    for (const id of deliveries) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect(ids.filter((id) => counts.get(id) !== 1)).toEqual([]);
    expect(await relays[0]!.pendingCount()).toBe(0);
    await consumer.stop();
  });

  it('publishes what a nudge announced in one batch, then waits for the next nudge or poll', async () => {
    const relay = new OutboxRelay({
      db: database.db,
      table: outbox,
      bus: newBus(),
      pollIntervalMs: 60_000,
      nudgeDelayMs: 10,
    });
    const batches: number[] = [];
    const publish = relay.publishBatch.bind(relay);
    relay.publishBatch = async () => {
      const published = await publish();
      batches.push(published);
      return published;
    };
    relay.start(); // publishes whatever earlier tests left
    await eventually(() => batches.length === 1, 10_000);
    await Promise.all([1, 2, 3].map((i) => placeOrder('tenant-a', uniqueName(`n${i}`))));
    relay.nudge();
    await eventually(() => batches.length === 2, 10_000);
    expect(batches[1]).toBe(3);
    // A batch that was not full emptied the outbox: no transaction runs just to find nothing.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(batches).toHaveLength(2);
    await relay.stop();
  });

  it('holds no transaction while the broker keeps a batch waiting; other relays wait their turn and order holds', async () => {
    await new OutboxRelay({ db: database.db, table: outbox, bus: newBus() }).flush(20_000);
    const first = [
      await placeOrder('tenant-a', uniqueName('w1')),
      await placeOrder('tenant-a', uniqueName('w2')),
    ];
    const stuck = gatedBus();
    const slow = new OutboxRelay({ db: database.db, table: outbox, bus: stuck.bus });
    const batch = slow.publishBatch();
    try {
      await eventually(() => stuck.published.length === 1 || undefined, 10_000);
      // The broker keeps the batch waiting (as Kafka retrying for ~28 s would): the relay's
      // connection holds the relays' lock but no transaction, and writers go on.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(await longTransactions()).toEqual([]);
      const locks = await database.db.execute(
        sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and granted`,
      );
      expect(rowsOf<{ n: number }>(locks)[0]!.n).toBeGreaterThanOrEqual(1);
      const writeStarted = Date.now();
      const later = await placeOrder('tenant-a', uniqueName('w3'));
      expect(Date.now() - writeStarted).toBeLessThan(1_000);
      // Another relay does not publish past the waiting batch (per-key order): it waits its turn.
      const next = gatedBus();
      next.open();
      const other = new OutboxRelay({ db: database.db, table: outbox, bus: next.bus });
      expect(await other.publishBatch()).toBe(0);
      expect(next.published).toEqual([]);

      stuck.open();
      expect(await batch).toBe(2);
      expect(await other.publishBatch()).toBe(1);
      const ids = (batches: OutgoingMessage[][]) =>
        batches.flat().map((m) => decodeEnvelope(m.value).id);
      expect(ids(stuck.published)).toEqual(first);
      expect(ids(next.published)).toEqual([later]);
      expect(await other.pendingCount()).toBe(0);
      expect(await longTransactions()).toEqual([]);
    } finally {
      // A failed expectation must not leave the batch (and its connection) waiting forever.
      stuck.open();
      await batch.catch(() => 0);
    }
  });

  it('keeps tenants apart in the outbox itself', async () => {
    await placeOrder('tenant-c', uniqueName('order'));
    const visibleToB = await withTenant(database.db, 'tenant-b', (tx) =>
      tx.select().from(outbox).where(eq(outbox.tenantId, 'tenant-c')),
    );
    expect(visibleToB).toEqual([]);
    await expect(
      withTenant(database.db, 'tenant-b', (tx) =>
        writer.add(tx, {
          type: 'task.state_changed',
          key: 'k',
          tenantId: 'tenant-c',
          payload: { taskId: 'k' },
        }),
      ),
    ).rejects.toThrow();
  });
});

describe('publish after commit', () => {
  /** A state-change event committed through `through` in tenant-a; `inside` runs before the commit. */
  const commitEvent = (
    through: OutboxWriter,
    key: string,
    inside: (eventId: string) => Promise<void> = async () => undefined,
  ) =>
    runWithTenant({ tenantId: 'tenant-a', subject: 'test', roles: [], requestId: key }, () =>
      withTenant(database.db, 'tenant-a', async (tx) => {
        const [id] = await through.add(tx, {
          type: 'task.state_changed',
          key,
          payload: { taskId: key, fromStatus: TaskStatus.QUEUED, toStatus: TaskStatus.OK },
        });
        await inside(id!);
        return id!;
      }),
    );
  const recordingBus = () => {
    const published: OutgoingMessage[] = [];
    const bus: EventBus = {
      publish: async (messages) => void published.push(...messages),
      subscribe: () => Promise.reject(new Error('not a consumer')),
      ensureTopics: async () => undefined,
      ping: async () => undefined,
      close: async () => undefined,
    };
    return { bus, published };
  };

  it("sends a commit's events right after the commit, without a relay batch, and nothing of a rollback", async () => {
    const { bus, published } = recordingBus();
    // Polls never come and nobody nudges: only the publish after commit can send the rows.
    const relay = new OutboxRelay({ db: database.db, table: outbox, bus, pollIntervalMs: 600_000 });
    relay.start(); // its first look takes what earlier tests left
    await eventually(async () => (await relay.pendingCount()) === 0, 20_000);
    const direct = new OutboxWriter(outbox, 'aion/test', relay);
    const orderId = uniqueName('direct');
    const ids = (messages: OutgoingMessage[]) => messages.map((m) => decodeEnvelope(m.value).id);
    const eventId = await commitEvent(direct, orderId, async (id) => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Not before the commit: the transaction could still roll back.
      expect(ids(published)).not.toContain(id);
    });
    await eventually(() => ids(published).includes(eventId), 5_000);
    await eventually(async () => (await relay.pendingCount()) === 0, 5_000);

    const rolledBack = uniqueName('rolled-back');
    await expect(
      withTenant(database.db, 'tenant-a', async (tx) => {
        await direct.add(tx, {
          type: 'task.state_changed',
          key: rolledBack,
          tenantId: 'tenant-a',
          payload: { taskId: rolledBack },
        });
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(published.filter((m) => m.key === rolledBack)).toEqual([]);
    await relay.stop();
  });

  it('deletes rows as it publishes them when retention is 0 (the embedded default), never before', async () => {
    const published: OutgoingMessage[] = [];
    let brokerUp = false;
    const bus: EventBus = {
      publish: async (messages) => {
        if (!brokerUp) throw new Error('broker unavailable');
        published.push(...messages);
      },
      subscribe: () => Promise.reject(new Error('not a consumer')),
      ensureTopics: async () => undefined,
      ping: async () => undefined,
      close: async () => undefined,
    };
    const relay = new OutboxRelay({
      db: database.db,
      table: outbox,
      bus,
      pollIntervalMs: 100,
      retentionMs: 0,
    });
    const rowsWith = async (id: string) =>
      (
        await testDb.queryAsOwner<{ n: number }>(
          `select count(*)::int as n from tst_outbox where event_id = $1`,
          [id],
        )
      )[0]!.n;
    const direct = new OutboxWriter(outbox, 'aion/test', relay);
    relay.start();
    const eventId = await commitEvent(direct, uniqueName('retained-none'));
    // Its publish fails: the row stays for the next attempt.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await rowsWith(eventId)).toBe(1);
    brokerUp = true;
    await eventually(() => published.some((m) => decodeEnvelope(m.value).id === eventId), 10_000);
    await eventually(async () => (await rowsWith(eventId)) === 0, 5_000);
    await relay.stop();
  });

  it.each(['publish', 'mark'])(
    'loses nothing when the committing process is killed before the %s: another replica sweeps the row up, processed once',
    async (crashAt) => {
      const groupId = uniqueName(`swept-${crashAt}`);
      const deliveries: string[] = [];
      const consumer = await dedupingConsumer(groupId, deliveries);
      // Another replica, already running: its polls sweep rows older than 300 ms.
      const replica = new OutboxRelay({
        db: database.db,
        table: outbox,
        bus: newBus(),
        pollIntervalMs: 100,
        sweepAfterMs: 300,
      });
      replica.start();
      await eventually(async () => (await replica.pendingCount()) === 0, 20_000);

      const orderId = uniqueName(`crash-${crashAt}`);
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(__dirname, 'crashing-publisher.ts')],
        {
          cwd: repoRoot,
          env: {
            ...process.env,
            NODE_OPTIONS: '',
            TEST_APP_URL: testDb.appUrl,
            TEST_CRASH_AT: crashAt,
            TEST_ORDER_ID: orderId,
          },
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      );
      const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
        child.on('exit', (_code, sig) => resolve(sig)),
      );
      expect(signal).toBe('SIGKILL');
      const [row] = await testDb.queryAsOwner<{ event_id: string }>(
        'select event_id from tst_outbox where key = $1',
        [orderId],
      );
      expect(row).toBeDefined();
      const eventId = row!.event_id;

      await eventually(() => deliveries.includes(eventId), 45_000);
      await eventually(async () => (await replica.pendingCount()) === 0, 20_000);
      // Killed before the mark, the event reached the broker twice; the consumer acted once.
      if (crashAt === 'mark')
        await eventually(() => deliveries.filter((id) => id === eventId).length === 2, 30_000);
      expect(await effectCount('tenant-a', eventId)).toBe(1);
      await replica.stop();
      await consumer.stop();
    },
    120_000,
  );
});
