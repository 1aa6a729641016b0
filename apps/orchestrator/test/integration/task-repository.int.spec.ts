import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { migratePostgres, openPostgres, type Database } from '@aion/db';
import { decodeEnvelope, MemoryBus, OutboxRelay, OutboxWriter, payloadOf } from '@aion/events';
import { runWithTenant } from '@aion/tenancy';
import { createTestDatabase, type TestDatabase } from '@aion/testing';
import type { StreamEvent, TaskRecord, TaskRequestDoc } from '../../src/core/ports';
import { outbox } from '../../src/adapters/db/schema';
import { PostgresBudgets } from '../../src/adapters/db/budget-repository';
import { PostgresTaskRepository } from '../../src/adapters/db/task-repository';
import { LEDGER_WRITTEN_HEADER } from '../../src/adapters/db/usage-ledger';

const migrations = path.resolve(__dirname, '..', '..', 'migrations');
let testDb: TestDatabase;
let database: Database;
let repository: PostgresTaskRepository;

const as = <T>(tenantId: string, fn: () => Promise<T>, requestId = 'r') =>
  runWithTenant({ tenantId, subject: `${tenantId}-dev`, roles: ['developer'], requestId }, fn);

function newTask(tenantId: string, id = randomUUID()): TaskRecord {
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
    tenantId,
    id,
    projectId: '',
    subject: `${tenantId}-dev`,
    intent: 'summarize',
    status: 'QUEUED',
    request,
    requestHash: 'h',
    createdAt: now,
    updatedAt: now,
  };
}

const query = <T extends object>(text: string, values: unknown[] = []) =>
  testDb.queryAsOwner<T>(text, values);

beforeAll(async () => {
  testDb = await createTestDatabase('taskrepo');
  await migratePostgres(
    testDb.ownerUrl,
    { folder: migrations, prefix: 'orc' },
    { appRole: testDb.appRole },
  );
  database = openPostgres({ url: testDb.appUrl, max: 10 });
  repository = new PostgresTaskRepository(database.db, new OutboxWriter(outbox, 'aion/test'));
});

afterAll(async () => {
  await database.close();
  await testDb.drop();
});

describe('task writes on PostgreSQL (group commit)', () => {
  it('commits 300 concurrent creates of two tenants, each with its own event, request id and row-level security', async () => {
    const before = { ...database.counters! };
    const made = await Promise.all(
      Array.from({ length: 300 }, (_, i) => {
        const tenant = i % 2 ? 'alpha' : 'beta';
        return as(tenant, () => repository.create(newTask(tenant)), `req-${i}`);
      }),
    );
    expect(made.every((m) => m.created && m.record.status === 'QUEUED')).toBe(true);
    // Both tenants' writes share statements (one per batch, no transaction around it): with at
    // most 4 in flight, far fewer than one per write, and never a begin or commit.
    expect(database.counters!.statements - before.statements).toBeLessThan(60);
    expect(database.counters!.transactions).toBe(before.transactions);
    const rows = await query<{ tenant_id: string; key: string; headers: string; value: Buffer }>(
      `select tenant_id, key, headers, value from orc_outbox where event_type = 'task.state_changed'`,
    );
    expect(rows).toHaveLength(300);
    made.forEach((m, i) => {
      const row = rows.find((r) => r.key === m.record.id)!;
      expect(row.tenant_id).toBe(m.record.tenantId);
      // Built in its submitter's context even though it shared a transaction with others.
      expect(JSON.parse(row.headers)['x-request-id']).toBe(`req-${i}`);
      expect(payloadOf(decodeEnvelope(row.value), 'task.state_changed')).toMatchObject({
        toStatus: 1,
      });
    });
    const alphaSees = await as('alpha', () => repository.list({ limit: 500, offset: 0 }));
    expect(alphaSees.total).toBe(150);
    expect(alphaSees.items.every((t) => t.tenantId === 'alpha')).toBe(true);
  });

  it('answers a repeated create with the stored task, even when both share a transaction', async () => {
    const task = newTask('alpha');
    const [first, second] = await Promise.all([
      as('alpha', () => repository.create(task)),
      as('alpha', () => repository.create({ ...task, requestHash: 'other' })),
    ]);
    expect([first.created, second.created].sort()).toEqual([false, true]);
    expect(second.record.requestHash).toBe('h');
  });

  it('moves concurrent tasks in shared transactions; a stale move or another tenant’s task is left alone', async () => {
    const tasks = await Promise.all(
      Array.from({ length: 40 }, () => as('alpha', () => repository.create(newTask('alpha')))),
    );
    const foreign = await as('beta', () => repository.create(newTask('beta')));
    const moves = await Promise.all([
      ...tasks.map(({ record }, i) =>
        as('alpha', () =>
          repository.transition(
            record,
            i === 7 ? 'RUNNING' : 'QUEUED', // stale: the task is QUEUED
            i === 7 ? 'OK' : 'RUNNING',
            {
              engine: { route: 'local', name: 'e1', chosenBy: 'ai-router', reason: `rule ${i}` },
              ...(i === 7 ? {} : { via: ['ROUTED' as const] }),
            },
          ),
        ),
      ),
      as('alpha', () =>
        repository.transition(foreign.record, 'QUEUED', 'RUNNING', { via: ['ROUTED'] }),
      ),
    ]);
    expect(moves[7]).toBeUndefined();
    expect(moves[40]).toBeUndefined();
    moves.slice(0, 40).forEach((moved, i) => {
      if (i === 7) return;
      expect(moved).toMatchObject({ status: 'RUNNING', engine: { reason: `rule ${i}` } });
    });
    expect((await as('beta', () => repository.get(foreign.record.id)))?.status).toBe('QUEUED');
    const steps = await query<{ n: string }>(
      `select count(*) as n from orc_outbox where key = any($1) and event_type = 'task.state_changed'`,
      [tasks.map((t) => t.record.id)],
    );
    // Each of the 40 was created (1 event); 39 moved through ROUTED to RUNNING (2 events each).
    expect(Number(steps[0]!.n)).toBe(40 + 39 * 2);
  });

  it('finishes tasks with result, usage and stream events, and records dead letters, all in one batch', async () => {
    const [ok, failed] = await Promise.all([
      as('alpha', () => repository.create(newTask('alpha'))),
      as('alpha', () => repository.create(newTask('alpha'))),
    ]);
    for (const t of [ok, failed])
      await as('alpha', () =>
        repository.transition(t.record, 'QUEUED', 'RUNNING', { via: ['ROUTED'] }),
      );
    const [done, dead] = await Promise.all([
      as('alpha', () =>
        repository.transition(
          ok.record,
          'RUNNING',
          'OK',
          {
            result: { summary: 'short' },
            usage: { latencyMs: 12, inputTokens: 3, outputTokens: 2, costUsd: 0.00012345 },
          },
          [
            { kind: 'partial', data: { partial: 'a' } },
            { kind: 'done', data: { status: 'OK' } },
          ],
        ),
      ),
      as('alpha', () =>
        repository.transition(
          failed.record,
          'RUNNING',
          'ERROR',
          {
            error: { code: 'engine.failed', message: 'every engine failed', retryable: true },
            deadLetter: { attempts: 2 },
          },
          { kind: 'error', data: { code: 'engine.failed' } },
        ),
      ),
    ]);
    expect(done).toMatchObject({
      status: 'OK',
      result: { summary: 'short' },
      usage: { latencyMs: 12, inputTokens: 3, outputTokens: 2, costUsd: 0.00012345 },
    });
    expect(dead?.error?.code).toBe('engine.failed');
    const stream = await as('alpha', () => repository.streamAfter(ok.record.id, 0));
    expect(stream.map((e) => [e.sequence, e.kind])).toEqual([
      [1, 'partial'],
      [2, 'done'],
    ]);
    const usage = await query<{ event_id: string; headers: string }>(
      `select event_id, headers from orc_outbox where key = $1 and event_type = 'usage.recorded'`,
      [ok.record.id],
    );
    expect(usage).toHaveLength(1);
    // The ledger row committed with the task (same event id), and the message says so, so that
    // the recorder does not write it a second time.
    expect(JSON.parse(usage[0]!.headers)).toMatchObject({ [LEDGER_WRITTEN_HEADER]: 'true' });
    const ledger = await query<Record<string, unknown>>(
      `select tenant_id, event_id, task_id, input_tokens, output_tokens, cost_usd::text as cost, latency_ms
         from orc_usage_records where task_id = $1`,
      [ok.record.id],
    );
    expect(ledger).toEqual([
      {
        tenant_id: 'alpha',
        event_id: usage[0]!.event_id,
        task_id: ok.record.id,
        input_tokens: '3',
        output_tokens: '2',
        cost: '0.00012345',
        latency_ms: 12,
      },
    ]);
    const failedCost = await query(`select 1 from orc_usage_records where task_id = $1`, [
      failed.record.id,
    ]);
    expect(failedCost).toEqual([]);
    const letters = await query<{ retry_count: number }>(
      `select retry_count from orc_dead_letters where ref = $1`,
      [failed.record.id],
    );
    expect(letters).toEqual([{ retry_count: 2 }]);
  });

  it('numbers stream events without gaps or duplicates when two replicas append to one task at once', async () => {
    const other = new PostgresTaskRepository(database.db, new OutboxWriter(outbox, 'aion/test'));
    const { record } = await as('alpha', () => repository.create(newTask('alpha')));
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        as('alpha', () =>
          (i % 2 ? other : repository).appendStream(record.id, [
            { kind: 'token', data: { token: `${i}a` } },
            { kind: 'token', data: { token: `${i}b` } },
          ]),
        ),
      ),
    );
    const events = await as('alpha', () => repository.streamAfter(record.id, 0));
    expect(events.map((e) => e.sequence)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    // Each append's two events stay next to each other, in order.
    for (let i = 0; i < events.length; i += 2)
      expect(`${(events[i]!.data as { token: string }).token.slice(0, -1)}b`).toBe(
        (events[i + 1]!.data as { token: string }).token,
      );
  });

  it('keeps one caller’s appends in the order it made them and announces what was written', async () => {
    const { record } = await as('alpha', () => repository.create(newTask('alpha')));
    const announced: StreamEvent[] = [];
    repository.onAppended((_tenant, id, event) => {
      if (id === record.id) announced.push(event);
    });
    await as('alpha', () =>
      Promise.all(
        ['one', 'two', 'three'].map((token) =>
          repository.appendStream(record.id, [{ kind: 'token', data: { token } }]),
        ),
      ),
    );
    expect(announced.map((e) => [e.sequence, (e.data as { token: string }).token])).toEqual([
      [1, 'one'],
      [2, 'two'],
      [3, 'three'],
    ]);
  });

  it('fails only the write the database refuses; writes sharing its transaction still commit', async () => {
    const tasks = await Promise.all(
      Array.from({ length: 12 }, () => as('alpha', () => repository.create(newTask('alpha')))),
    );
    const results = await Promise.allSettled(
      tasks.map(({ record }, i) =>
        as('alpha', () =>
          // A stream event without data breaks the table's NOT NULL constraint.
          repository.appendStream(record.id, [
            { kind: 'token', data: i === 5 ? undefined : { token: 't' } },
          ]),
        ),
      ),
    );
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(results[5]!.status).toBe('rejected');
    for (const [i, { record }] of tasks.entries()) {
      const events = await as('alpha', () => repository.streamAfter(record.id, 0));
      expect(events).toHaveLength(i === 5 ? 0 : 1);
    }
  });

  it('starts tasks with their budget reservations in shared transactions; a refused one leaves its task queued', async () => {
    const budgets = new PostgresBudgets(database.db);
    await as('spend', () => budgets.setLimit('', 1));
    const tasks = await Promise.all(
      Array.from({ length: 12 }, () => as('spend', () => repository.create(newTask('spend')))),
    );
    const start = (task: TaskRecord) =>
      as('spend', () =>
        repository.transition(task, 'QUEUED', 'RUNNING', {
          via: ['ROUTED'],
          engine: { route: 'api', name: 'paid', chosenBy: 'ai-router', reason: 'cheapest' },
          budget: { kind: 'reserve', projectId: '', amountUsd: 0.1 },
        }),
      );
    const started = await Promise.allSettled(tasks.map(({ record }) => start(record)));
    const refused = started.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(started.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    expect(refused.map((r) => (r.reason as { code: string }).code)).toEqual([
      'budget.exceeded',
      'budget.exceeded',
    ]);
    const statuses = await query<{ status: string; n: string }>(
      `select status, count(*) as n from orc_tasks where tenant_id = 'spend' group by status order by status`,
    );
    expect(statuses.map((r) => [r.status, Number(r.n)])).toEqual([
      ['QUEUED', 2],
      ['RUNNING', 10],
    ]);
    expect((await as('spend', () => budgets.state(''))).reservedUsd).toBeCloseTo(1, 6);

    // Finishing commits the actual cost with the result; a task that moved away reserves nothing.
    const running = tasks.filter((_, i) => started[i]!.status === 'fulfilled');
    await Promise.all(
      running.map(({ record }) =>
        as('spend', () =>
          repository.transition(record, 'RUNNING', 'OK', {
            result: { ok: true },
            budget: { kind: 'commit', actualUsd: 0.04 },
          }),
        ),
      ),
    );
    const queued = tasks.find((_, i) => started[i]!.status === 'rejected')!.record;
    await as('spend', () => repository.transition(queued, 'QUEUED', 'CANCELED', {}));
    expect(await start(queued)).toBeUndefined();
    const state = await as('spend', () => budgets.state(''));
    expect(state.committedUsd).toBeCloseTo(0.4, 6);
    expect(state.reservedUsd).toBeCloseTo(0, 6);
    const reservations = await query<{ status: string; n: string }>(
      `select status, count(*) as n from orc_budget_reservations where tenant_id = 'spend' group by status`,
    );
    expect(reservations.map((r) => [r.status, Number(r.n)])).toEqual([['COMMITTED', 10]]);
  });

  it('releases what a task still holds with the transition that ends it, and nothing twice', async () => {
    const budgets = new PostgresBudgets(database.db);
    const [paid, free] = await Promise.all(
      ['paid', 'free'].map(() => as('release', () => repository.create(newTask('release')))),
    );
    await as('release', () => budgets.setLimit('', 1));
    await as('release', () =>
      repository.transition(paid!.record, 'QUEUED', 'RUNNING', {
        via: ['ROUTED'],
        engine: { route: 'api', name: 'paid', chosenBy: 'ai-router', reason: 'cheapest' },
        budget: { kind: 'reserve', projectId: '', amountUsd: 0.3 },
      }),
    );
    expect((await as('release', () => budgets.state(''))).reservedUsd).toBeCloseTo(0.3, 6);
    const end = (task: TaskRecord, from: 'QUEUED' | 'RUNNING') =>
      as('release', () =>
        repository.transition(task, from, 'CANCELED', {
          error: { code: 'task.canceled', message: 'x', retryable: false },
          budget: { kind: 'release' },
        }),
      );
    // The paid task's reservation goes back with its cancellation; the free one held none.
    expect((await end(paid!.record, 'RUNNING'))?.status).toBe('CANCELED');
    expect((await end(free!.record, 'QUEUED'))?.status).toBe('CANCELED');
    expect((await as('release', () => budgets.state(''))).reservedUsd).toBeCloseTo(0, 6);
    const reservations = await query<{ request_id: string; status: string }>(
      `select request_id, status from orc_budget_reservations where tenant_id = 'release'`,
    );
    expect(reservations).toEqual([{ request_id: paid!.record.id, status: 'RELEASED' }]);
  });

  it('stores a task already running on its engine when routing was decided as it was accepted', async () => {
    const budgets = new PostgresBudgets(database.db);
    await as('fast', () => budgets.setLimit('', 0.25));
    const start = (reserveUsd?: number) => ({
      engine: {
        route: 'local' as const,
        name: 'e1',
        chosenBy: 'ai-router' as const,
        reason: 'cheapest',
      },
      sovereignty: {
        rule: 'default',
        engine: 'e1',
        jurisdiction: 'DE',
        region: 'local',
        model: { id: 'm', version: '1', approval: 'unregistered' as const },
        started_at: new Date().toISOString(),
      },
      ...(reserveUsd === undefined ? {} : { reserveUsd }),
    });
    const [free, first, second] = await Promise.all([
      as('fast', () => repository.create(newTask('fast'), start())),
      as('fast', () => repository.create(newTask('fast'), start(0.2))),
      as('fast', () => repository.create(newTask('fast'), start(0.2))),
    ]);
    expect([free.record.status, free.record.engine]).toEqual([
      'RUNNING',
      { route: 'local', name: 'e1', chosenBy: 'ai-router', reason: 'cheapest' },
    ]);
    // Two paid tasks, room for one: the other is accepted all the same, but queued and unrouted,
    // to take the ordinary route.
    const [paid, refused] = [first, second].sort((a) => (a.record.status === 'RUNNING' ? -1 : 1));
    expect(paid!.record).toMatchObject({ status: 'RUNNING', engine: { name: 'e1' } });
    expect(refused!.record).toMatchObject({ status: 'QUEUED', engine: undefined });
    expect([first.created, second.created]).toEqual([true, true]);
    expect((await as('fast', () => budgets.state(''))).reservedUsd).toBeCloseTo(0.2, 6);

    // A repeated id is answered with the stored task and reserves nothing more.
    const again = await as('fast', () => repository.create(paid!.record, start(0.2)));
    expect(again.created).toBe(false);
    expect((await as('fast', () => budgets.state(''))).reservedUsd).toBeCloseTo(0.2, 6);

    const lifecycle = await query<{ value: Buffer }>(
      `select value from orc_outbox where tenant_id = 'fast' and key = $1 order by seq`,
      [paid!.record.id],
    );
    const steps = lifecycle.map((row) => {
      const p = payloadOf(decodeEnvelope(row.value), 'task.state_changed');
      return [p.fromStatus, p.toStatus];
    });
    expect(steps).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
  });
});

describe('outbox marks carried by the next task write (migration 0015)', () => {
  /** A relay whose own marking waits a minute: within the test only a task write can mark. */
  async function relayed(retentionMs?: number) {
    const bus = new MemoryBus();
    const published: string[] = [];
    const publish = bus.publish.bind(bus);
    bus.publish = async (messages) => {
      await publish(messages);
      published.push(...messages.map((m) => m.key));
    };
    const relay = new OutboxRelay({
      db: database.db,
      table: outbox,
      bus,
      markAfterMs: 60_000,
      ...(retentionMs !== undefined && { retentionMs }),
    });
    relay.start();
    // Rows earlier tests left are swept first (marked by the relay itself), out of the way.
    for (let i = 0; i < 200 && (await relay.pendingCount()) > 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    const writer = new OutboxWriter(outbox, 'aion/test', relay);
    return { relay, published, repo: new PostgresTaskRepository(database.db, writer) };
  }
  const rowsOf = (key: string) =>
    query<{ published: boolean }>(
      `select published_at is not null as published from orc_outbox where key = $1`,
      [key],
    );
  const until = async (done: () => boolean) => {
    for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 25));
    expect(done()).toBe(true);
  };

  it('marks the rows published since the last write, of any tenant, in the next write', async () => {
    const { relay, published, repo } = await relayed();
    try {
      const first = newTask('carry-a');
      await as('carry-a', () => repo.create(first));
      await until(() => published.includes(first.id));
      // Published, not marked: the relay's own mark waits a minute.
      expect(await rowsOf(first.id)).toEqual([{ published: false }]);

      const second = newTask('carry-b');
      await as('carry-b', () => repo.create(second));
      // The second tenant's write marked the first tenant's row; its own waits for the next.
      expect(await rowsOf(first.id)).toEqual([{ published: true }]);
      expect(await rowsOf(second.id)).toEqual([{ published: false }]);
    } finally {
      await relay.stop();
    }
  });

  it('deletes them instead where nothing is kept (retention 0, the embedded mode)', async () => {
    const { relay, published, repo } = await relayed(0);
    try {
      const first = newTask('carry-a');
      await as('carry-a', () => repo.create(first));
      await until(() => published.includes(first.id));
      expect(await rowsOf(first.id)).toHaveLength(1);
      await as('carry-a', () => repo.create(newTask('carry-a')));
      expect(await rowsOf(first.id)).toEqual([]);
    } finally {
      await relay.stop();
    }
  });
});
