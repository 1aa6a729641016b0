import { createTestDatabase, type TestDatabase } from '@aion/testing';
import type { TaskService } from '../../src/core/task-service';
import type { TaskRecord } from '../../src/core/ports';
import { as, HeldEngines, migrate, summarize, taskReplica } from './support/replica';

let testDb: TestDatabase;
let close: () => Promise<void>;
let tasks: TaskService;
const engines = new HeldEngines();

beforeAll(async () => {
  testDb = await createTestDatabase('taskcancel');
  await migrate(testDb);
  const replica = taskReplica(testDb, engines);
  tasks = replica.tasks;
  close = () => replica.database.close();
});

afterAll(async () => {
  await close();
  await testDb.drop();
});

async function ended(tenantId: string, id: string): Promise<TaskRecord> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const record = await as(tenantId, () => tasks.get(id));
    if (!['QUEUED', 'ROUTED', 'RUNNING'].includes(record.status) || Date.now() > deadline)
      return record;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}

describe('cancel between tenants that use the same task id', () => {
  it("stops only the canceling tenant's run, never another tenant's task of the same id", async () => {
    const id = 'shared-42';
    // Tenant B's task starts first, tenant A's second: both run at once on this replica.
    await as('tenant-b', () => tasks.submit(summarize(id)));
    const b = await engines.next((c) => c.tenantId === 'tenant-b');
    await as('tenant-a', () => tasks.submit(summarize(id)));
    const a = await engines.next((c) => c.tenantId === 'tenant-a');
    const bothRunning = tasks.inFlight;

    const canceled = await as('tenant-b', () => tasks.cancel(id, 'no longer needed'));
    expect(canceled).toMatchObject({ tenantId: 'tenant-b', status: 'CANCELED' });
    // A's engine call is left running; B's is told to stop.
    expect(a.call.signal.aborted).toBe(false);
    expect(b.call.signal.aborted).toBe(true);
    expect(bothRunning).toBe(2);

    a.succeed('A finished');
    expect(await ended('tenant-a', id)).toMatchObject({
      status: 'OK',
      result: { summary: 'A finished' },
    });
    expect((await ended('tenant-b', id)).status).toBe('CANCELED');
  });

  it("lets tenant A cancel its own run after tenant B's run of the same id has ended", async () => {
    const id = 'shared-43';
    await as('tenant-a', () => tasks.submit(summarize(id)));
    const a = await engines.next((c) => c.tenantId === 'tenant-a' && c.text.includes(id));
    await as('tenant-b', () => tasks.submit(summarize(id)));
    const b = await engines.next((c) => c.tenantId === 'tenant-b' && c.text.includes(id));
    b.succeed();
    expect((await ended('tenant-b', id)).status).toBe('OK');

    // B's run ending must not forget A's: A's cancel still reaches A's engine call.
    await as('tenant-a', () => tasks.cancel(id, 'stop'));
    expect(a.call.signal.aborted).toBe(true);
    await until(() => tasks.inFlight === 0);
  });
});
