import { sql } from 'drizzle-orm';
import { migratePostgres, openPostgres, withTenant, type Database } from '@aion/db';
import { AuditTrail, KafkaBus, OutboxRelay, OutboxWriter, type Subscription } from '@aion/events';
import { runWithTenant } from '@aion/tenancy';
import { createLogger } from '@aion/telemetry';
import {
  createTestDatabase,
  eventually,
  testBrokers,
  uniqueName,
  type TestDatabase,
} from '@aion/testing';
import { startAuditRecorder } from '../../src/adapters/bus/audit-recorder';
import { PostgresAuditLog } from '../../src/adapters/db/audit-log-repository';
import { outbox } from '../../src/adapters/db/schema';
import { AuditLogService } from '../../src/core/audit-log';
import { migrations } from './support/replica';

// The durable audit trail on real PostgreSQL and Kafka: events written through a service's
// outbox, relayed to Kafka (twice, as after a relay crash), consumed by two recorder groups (as a
// replica that remembers nothing would) and stored once each, per tenant under row-level security.

const logger = createLogger({ service: 'audit-trail-test', level: 'error' });

describe('the audit trail and usage ledger', () => {
  let testDb: TestDatabase;
  let database: Database;
  let store: PostgresAuditLog;
  let service: AuditLogService;
  const buses: KafkaBus[] = [];
  const subscriptions: Subscription[] = [];
  const writer = new OutboxWriter(outbox, 'aion/gateway');
  const tenantA = uniqueName('audit-a');
  const tenantB = uniqueName('audit-b');
  const request = (tenantId: string, subject: string) => ({
    tenantId,
    subject,
    roles: ['admin'],
    requestId: uniqueName('req'),
  });
  const inTenant = <T>(tenantId: string, fn: () => Promise<T>) =>
    runWithTenant(request(tenantId, 'reader'), fn);

  const newBus = () => {
    const bus = new KafkaBus({ brokers: testBrokers(), clientId: uniqueName('audit-test') });
    buses.push(bus);
    return bus;
  };

  /** Publishes every pending outbox row; `again` republishes the already published ones too. */
  async function relay(again = false): Promise<void> {
    if (again) await testDb.queryAsOwner('update orc_outbox set published_at = null');
    await new OutboxRelay({ db: database.db, table: outbox, bus: newBus() }).flush(20_000);
  }

  const usage = (
    tenantId: string,
    taskId: string,
    engine: string,
    tokens: number,
    cost: number,
    model = 'llama-3.1-8b',
  ) =>
    runWithTenant(request(tenantId, 'aion/orchestrator'), () =>
      withTenant(database.db, tenantId, (tx) =>
        writer.add(tx, {
          type: 'usage.recorded',
          key: taskId,
          payload: {
            taskId,
            projectId: 'p1',
            engine,
            usage: {
              inputTokens: tokens,
              outputTokens: tokens * 2,
              costUsd: cost,
              latencyMs: 5,
              model,
            },
          },
        }),
      ),
    );

  const countAsOwner = async (table: string, tenantId: string) =>
    Number(
      (
        await testDb.queryAsOwner<{ n: string }>(
          `select count(*) as n from ${table} where tenant_id = $1`,
          [tenantId],
        )
      )[0]?.n,
    );

  beforeAll(async () => {
    testDb = await createTestDatabase('orcaudit');
    await migratePostgres(testDb.ownerUrl, migrations, { appRole: testDb.appRole });
    database = openPostgres({ url: testDb.appUrl, max: 6 });
    store = new PostgresAuditLog(database.db);
    service = new AuditLogService(store);
    const trail = new AuditTrail(database.db, writer);

    await runWithTenant(request(tenantA, 'key:alice'), async () => {
      await trail.record('api_key.created', 'k-1', { role: 'developer' });
      await trail.record('api_key.revoked', 'k-1');
    });
    await runWithTenant(request(tenantA, 'key:mallory'), () =>
      trail.record('api_key.created', 'k-2', { reason: 'missing permission' }, 'denied'),
    );
    await runWithTenant(request(tenantB, 'key:bob'), () =>
      trail.record('budget.set_limit', 'p9', { limit_usd: 5 }),
    );
    await usage(tenantA, 't1', 'local-llama', 10, 0.5);
    await usage(tenantA, 't2', 'local-llama', 20, 0.25);
    await usage(tenantA, 't2b', 'local-llama', 5, 0.5, 'llama-3.1-70b');
    await usage(tenantA, 't3', 'gpt-api', 1, 1, 'gpt-4o');
    await usage(tenantB, 't4', 'local-llama', 1000, 100);
    await relay();
    await relay(true);

    // Two groups each get every record (twice): four deliveries per event, one row.
    for (const groupId of [uniqueName('audit-g1'), uniqueName('audit-g2')])
      subscriptions.push(await startAuditRecorder({ bus: newBus(), store, logger, groupId }));
    await eventually(
      async () =>
        (await countAsOwner('orc_audit_log', tenantA)) === 3 &&
        (await countAsOwner('orc_usage_records', tenantA)) === 4 &&
        (await countAsOwner('orc_audit_log', tenantB)) === 1 &&
        (await countAsOwner('orc_usage_records', tenantB)) === 1,
      90_000,
      250,
    );
  }, 180_000);

  afterAll(async () => {
    await Promise.all(subscriptions.map((s) => s.stop()));
    await Promise.all(buses.map((b) => b.close()));
    await database?.close();
    await testDb?.drop();
  });

  it('stores each event once, denied attempts included, with who, what and which request', async () => {
    // Give the duplicate deliveries time to arrive, then count again.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await countAsOwner('orc_audit_log', tenantA)).toBe(3);
    const { items, total } = await inTenant(tenantA, () =>
      service.list({}, { limit: 50, offset: 0 }),
    );
    expect(total).toBe(3);
    expect(items.map((i) => [i.actor, i.action, i.outcome])).toEqual(
      expect.arrayContaining([
        ['key:alice', 'api_key.created', 'success'],
        ['key:alice', 'api_key.revoked', 'success'],
        ['key:mallory', 'api_key.created', 'denied'],
      ]),
    );
    const denied = items.find((i) => i.outcome === 'denied')!;
    expect(denied).toMatchObject({
      resourceType: 'api_key',
      resourceId: 'k-2',
      details: { reason: 'missing permission' },
      source: 'aion/gateway',
    });
    expect(denied.correlationId).toMatch(/^req-/);
  });

  it('filters by actor, action, outcome and time, and pages without overlap', async () => {
    const list = (filter: Parameters<AuditLogService['list']>[0], limit = 50, offset = 0) =>
      inTenant(tenantA, () => service.list(filter, { limit, offset }));
    expect((await list({ actor: 'key:alice' })).total).toBe(2);
    expect((await list({ action: 'api_key.created' })).total).toBe(2);
    expect((await list({ outcome: 'denied' })).items.map((i) => i.actor)).toEqual(['key:mallory']);
    expect((await list({ actor: 'key:alice', outcome: 'denied' })).total).toBe(0);
    expect((await list({ since: new Date(Date.now() + 60_000) })).total).toBe(0);
    expect((await list({ until: new Date(Date.now() - 3_600_000) })).total).toBe(0);
    expect((await list({ since: new Date(Date.now() - 3_600_000) })).total).toBe(3);

    const first = await list({}, 2, 0);
    const second = await list({}, 2, 2);
    expect(first.items).toHaveLength(2);
    expect(second.items).toHaveLength(1);
    const ids = [...first.items, ...second.items].map((i) => i.eventId);
    expect(new Set(ids).size).toBe(3);
    const times = [...first.items, ...second.items].map((i) => i.occurredAt.getTime());
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    const backwards = await list({
      since: new Date('2026-02-01T00:00:00Z'),
      until: new Date('2026-01-01T00:00:00Z'),
    });
    expect(backwards).toEqual({ items: [], total: 0 });
  });

  it("never shows one tenant another's records", async () => {
    const b = await inTenant(tenantB, () => service.list({}, { limit: 50, offset: 0 }));
    expect(b.items.map((i) => i.actor)).toEqual(['key:bob']);
    const aAsB = await inTenant(tenantB, () =>
      service.list({ actor: 'key:alice' }, { limit: 50, offset: 0 }),
    );
    expect(aAsB.total).toBe(0);
    const bUsage = await inTenant(tenantB, () => service.usageTotals({}));
    expect(bUsage.map((t) => [t.engine, t.tasks, t.costUsd])).toEqual([['local-llama', 1, 100]]);
  });

  it('sums usage by UTC day, engine and model, never counting a redelivered event twice', async () => {
    const totals = await inTenant(tenantA, () => service.usageTotals({}));
    const today = new Date().toISOString().slice(0, 10);
    expect(totals).toEqual([
      {
        day: today,
        engine: 'gpt-api',
        model: 'gpt-4o',
        tasks: 1,
        inputTokens: 1,
        outputTokens: 2,
        costUsd: 1,
      },
      {
        day: today,
        engine: 'local-llama',
        model: 'llama-3.1-70b',
        tasks: 1,
        inputTokens: 5,
        outputTokens: 10,
        costUsd: 0.5,
      },
      {
        day: today,
        engine: 'local-llama',
        model: 'llama-3.1-8b',
        tasks: 2,
        inputTokens: 30,
        outputTokens: 60,
        costUsd: 0.75,
      },
    ]);
    const past = await inTenant(tenantA, () =>
      service.usageTotals({
        since: new Date('2020-01-01T00:00:00Z'),
        until: new Date('2020-01-31T00:00:00Z'),
      }),
    );
    expect(past).toEqual([]);
    // The whole history at once: still one row per day, engine and model.
    const all = await inTenant(tenantA, () =>
      service.usageTotals({ since: new Date('2000-01-01T00:00:00Z') }),
    );
    expect(all).toEqual(totals);
  });

  it('refuses a row for another tenant and an unknown outcome at the database', async () => {
    /** What PostgreSQL said (drizzle wraps it in "Failed query" with the cause). */
    const refusal = (attempt: Promise<unknown>) =>
      attempt.then(
        () => 'accepted',
        (err: Error & { cause?: Error }) => `${err.message} ${err.cause?.message ?? ''}`,
      );
    expect(
      await refusal(
        withTenant(database.db, tenantA, (tx) =>
          tx.execute(
            sql`insert into orc_audit_log (tenant_id, event_id, occurred_at, actor, action, resource_type, resource_id, outcome, details, source, correlation_id) values (${tenantB}, 'forged', now(), 'x', 'x.y', 'x', 'y', 'success', '{}', 'x', '')`,
          ),
        ),
      ),
    ).toMatch(/row-level security/);
    expect(
      await refusal(
        inTenant(tenantA, () =>
          store.recordAudit({
            eventId: 'odd',
            occurredAt: new Date(),
            actor: 'x',
            action: 'x.y',
            resourceType: 'x',
            resourceId: 'y',
            // A value the type forbids, as a buggy caller might send it.
            outcome: 'maybe' as 'success',
            details: {},
            source: 'x',
            correlationId: '',
          }),
        ),
      ),
    ).toMatch(/orc_audit_log_outcome_check/);
    expect(await countAsOwner('orc_audit_log', tenantB)).toBe(1);
  });
});
