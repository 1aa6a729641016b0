import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { migratePostgres, openPostgres, type Database } from '@aion/db';
import { OutboxWriter } from '@aion/events';
import { runWithTenant } from '@aion/tenancy';
import { createTestDatabase, eventually, type TestDatabase } from '@aion/testing';
import type { TaskRecord, TaskRequestDoc } from '../../src/core/ports';
import { outbox } from '../../src/adapters/db/schema';
import { PostgresReplicaLease } from '../../src/adapters/db/replica-lease';
import { PostgresTaskRepository } from '../../src/adapters/db/task-repository';

const migrations = path.resolve(__dirname, '..', '..', 'migrations');
const LEASE_MS = 600;
// The task timeouts are far away: only a lapsed lease can make these tasks stale.
const FAR = { queuedForMs: 3_600_000, runningForMs: 3_600_000, limit: 100 };
let testDb: TestDatabase;
let database: Database;

const as = <T>(fn: () => Promise<T>) =>
  runWithTenant(
    { tenantId: 'acme', subject: 'acme-dev', roles: ['developer'], requestId: 'r' },
    fn,
  );
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function newTask(): TaskRecord {
  const id = randomUUID();
  const request: TaskRequestDoc = {
    schema_version: '1.0',
    task_id: id,
    intent: 'summarize',
    params: { text: 'x' },
    priority: 'normal',
    sla: { budget_usd: 0, p95_ms: 0, privacy: 'local-only' },
    metadata: {},
    data_context: { jurisdiction: 'DE', classification: 'none' },
    project_id: '',
  };
  const now = new Date();
  return {
    tenantId: 'acme',
    id,
    projectId: '',
    subject: 'acme-dev',
    intent: 'summarize',
    status: 'QUEUED',
    request,
    requestHash: 'h',
    createdAt: now,
    updatedAt: now,
  };
}

/** A replica: its lease (renewed by hand, so a test can stop it like a crash) and repository. */
function replica(name: string) {
  const replicaId = `${name}-${randomUUID().slice(0, 6)}`;
  return {
    lease: new PostgresReplicaLease(database.db, replicaId, LEASE_MS),
    tasks: new PostgresTaskRepository(database.db, new OutboxWriter(outbox, 'aion/test'), {
      replicaId,
    }),
  };
}

/** One task RUNNING and one QUEUED, written by `owner`. */
async function twoTasks(owner: ReturnType<typeof replica>): Promise<string[]> {
  const running = newTask();
  const queued = newTask();
  await as(async () => {
    await owner.tasks.create(running);
    await owner.tasks.create(queued);
    await owner.tasks.transition(running, 'QUEUED', 'RUNNING', { via: ['ROUTED'] });
  });
  return [running.id, queued.id].sort();
}

/** Renews every third of the lease until the returned function is called (a crash). */
function renewing(...leases: PostgresReplicaLease[]): () => Promise<void> {
  let on = true;
  const loop = (async () => {
    while (on) {
      await Promise.all(leases.map((l) => l.renew()));
      await sleep(LEASE_MS / 3);
    }
  })();
  return async () => {
    on = false;
    await loop;
  };
}

const claimedIds = (records: TaskRecord[]) => records.map((r) => r.id).sort();

beforeAll(async () => {
  testDb = await createTestDatabase('leases');
  await migratePostgres(
    testDb.ownerUrl,
    { folder: migrations, prefix: 'orc' },
    { appRole: testDb.appRole },
  );
  database = openPostgres({ url: testDb.appUrl, max: 6 });
});

afterAll(async () => {
  await database.close();
  await testDb.drop();
});

describe('replica leases and the stale-task reaper', () => {
  it("keeps a live replica's tasks, and recovers a dead one's within two lease periods of its last renewal", async () => {
    const a = replica('a');
    const b = replica('b');
    const stopA = renewing(a.lease);
    const stopB = renewing(b.lease);
    const ids = await twoTasks(b);
    // B keeps renewing however long its tasks take: nothing is taken from it.
    await sleep(LEASE_MS * 3);
    expect(await b.tasks.claimStale(FAR).then(claimedIds)).toEqual([]);
    expect(await a.tasks.claimStale(FAR)).toEqual([]);

    await stopB(); // B dies: its last renewal was just now
    const died = Date.now();
    const claimed = await eventually(
      async () => {
        const found = await a.tasks.claimStale(FAR);
        return found.length ? found : undefined;
      },
      10_000,
      50,
    );
    expect(Date.now() - died).toBeLessThan(LEASE_MS * 2);
    expect(claimedIds(claimed)).toEqual(ids);
    // Claimed once: no other round takes them again.
    expect(await a.tasks.claimStale(FAR)).toEqual([]);
    await stopA();
  });

  it('after an outage that stopped every renewal, no replica takes the tasks of one that has not renewed yet', async () => {
    const a = replica('a');
    const b = replica('b');
    let stop = renewing(a.lease, b.lease);
    const ids = await twoTasks(b);
    await sleep(LEASE_MS);
    // The database is away for longer than a lease: nobody renews.
    await stop();
    await sleep(LEASE_MS * 2);
    // A is back first; B (alive, slower to reconnect) has not renewed yet.
    stop = renewing(a.lease);
    await sleep(LEASE_MS * 2);
    expect(await a.tasks.claimStale(FAR)).toEqual([]);
    // B renews again, then really dies: now A, renewing throughout, takes its tasks.
    await b.lease.renew();
    await sleep(LEASE_MS / 3);
    await b.lease.renew();
    const claimed = await eventually(
      async () => {
        const found = await a.tasks.claimStale(FAR);
        return found.length ? found : undefined;
      },
      10_000,
      50,
    );
    expect(claimedIds(claimed)).toEqual(ids);
    await stop();
  });

  it('a replica that stops cleanly lets its lease lapse at once', async () => {
    const a = replica('a');
    const b = replica('b');
    const stopA = renewing(a.lease);
    await sleep(LEASE_MS / 2);
    await b.lease.start();
    const ids = await twoTasks(b);
    await b.lease.stop();
    const claimed = await eventually(
      async () => {
        const found = await a.tasks.claimStale(FAR);
        return found.length ? found : undefined;
      },
      2_000,
      50,
    );
    expect(claimedIds(claimed)).toEqual(ids);
    await stopA();
  });
});
