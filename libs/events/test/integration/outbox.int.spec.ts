import { spawn } from 'node:child_process';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { TaskStatus } from '@aion/contracts';
import { migratePostgres, openPostgres, withTenant, type Database } from '@aion/db';
import { runWithTenant } from '@aion/tenancy';
import {
  createTestDatabase,
  eventually,
  testBrokers,
  uniqueName,
  type TestDatabase,
} from '@aion/testing';
import {
  KafkaBus,
  OutboxRelay,
  OutboxWriter,
  processOnce,
  TOPICS,
  type IncomingEvent,
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
