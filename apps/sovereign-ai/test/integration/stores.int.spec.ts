import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { migratePostgres, openPostgres, type Database } from '@aion/db';
import { decodeEnvelope, OutboxWriter, payloadOf } from '@aion/events';
import { runWithTenant } from '@aion/tenancy';
import { createTestDatabase, type TestDatabase } from '@aion/testing';
import { PostgresDeployments, PostgresPolicies } from '../../src/adapters/db/deployment-repository';
import { PostgresModels } from '../../src/adapters/db/registry-repository';
import { PostgresDecisionLog, PostgresRules } from '../../src/adapters/db/residency-repository';
import { outbox } from '../../src/adapters/db/schema';
import { PostgresComplianceOverrides } from '../../src/adapters/db/stores';

const migrations = path.resolve(__dirname, '..', '..', 'migrations');
let testDb: TestDatabase;
let database: Database;
let writer: OutboxWriter;
const as = <T>(tenantId: string, fn: () => Promise<T>, roles = ['admin']) =>
  runWithTenant({ tenantId, subject: `${tenantId}-admin`, roles, requestId: 'r' }, fn);
const rule = {
  dataJurisdiction: 'DE',
  tier: 'pii' as const,
  action: 'allow' as const,
  targetJurisdictions: ['EU'],
  priority: 10,
  description: '',
};

/** Outbox rows of a tenant as the relay would publish them: event type and decoded payload. */
async function outboxOf(tenantId: string) {
  const rows = await testDb.queryAsOwner<{ event_type: string; topic: string; value: Buffer }>(
    'select event_type, topic, value from sov_outbox where tenant_id = $1 order by seq',
    [tenantId],
  );
  return rows.map((r) => ({
    type: r.event_type,
    topic: r.topic,
    envelope: decodeEnvelope(r.value),
  }));
}

beforeAll(async () => {
  testDb = await createTestDatabase('sovstores');
  await migratePostgres(
    testDb.ownerUrl,
    { folder: migrations, prefix: 'sov' },
    { appRole: testDb.appRole },
  );
  database = openPostgres({ url: testDb.appUrl, max: 10 });
  writer = new OutboxWriter(outbox, 'aion/sovereign-ai');
});

afterAll(async () => {
  await database.close();
  await testDb.drop();
});

describe('sovereign-ai stores on PostgreSQL', () => {
  it('keeps every tenant-scoped table apart by row-level security', async () => {
    const db = database.db;
    const rules = new PostgresRules(db, writer);
    const models = new PostgresModels(db, writer);
    const deployments = new PostgresDeployments(db, writer);
    const policies = new PostgresPolicies(db);
    const compliance = new PostgresComplianceOverrides(db, writer, () => ({ jurisdiction: 'DE' }));
    const decisions = new PostgresDecisionLog(db, writer);
    const created = await as('alpha', () => rules.create(rule, 100));
    const model = await as('alpha', () =>
      models.register({ modelRef: 'm', name: 'm', version: '', jurisdiction: 'EU' }),
    );
    const deployment = await as('alpha', () =>
      deployments.create(randomUUID(), {
        jurisdiction: 'DE',
        region: 'eu-central-1',
        namespace: 'aion-sovereign-de-eu-central-1',
        modelId: 'm',
        modelVersion: '',
        image: 'img',
        replicas: 1,
        mode: 'render',
      }),
    );
    const policy = await as('alpha', () =>
      policies.create({
        name: 'p',
        strategy: 'strict',
        primaryJurisdiction: 'DE',
        secondaryJurisdictions: [],
      }),
    );
    await as('alpha', () => compliance.put('DE', { regulations: [], adequate_jurisdictions: [] }));
    await as('alpha', () =>
      decisions.record({
        taskId: 't',
        dataJurisdiction: 'DE',
        classification: 'pii',
        attempted: ['US'],
        ruleId: 'r',
        allowed: false,
        reason: 'no',
      }),
    );
    expect(created).not.toBe('limit');
    // Tenant beta sees none of it, by id or by listing, and cannot change it.
    await as('beta', async () => {
      expect(await rules.all()).toEqual([]);
      expect(await rules.get((created as { id: string }).id)).toBeUndefined();
      expect(
        await rules.update((created as { id: string }).id, { ...rule, priority: 1 }),
      ).toBeUndefined();
      expect(await rules.remove((created as { id: string }).id)).toBe(false);
      expect(await models.all()).toEqual([]);
      await expect(models.decide(model.id, 'APPROVED', 'beta', '')).rejects.toMatchObject({
        code: 'resource.not_found',
      });
      expect(await deployments.get(deployment.id)).toBeUndefined();
      expect(await policies.get(policy.id)).toBeUndefined();
      expect(await compliance.get('DE')).toBeUndefined();
      expect(await decisions.lastDay()).toEqual({ decisions: 0, violations: 0 });
    });
    // The app role without any tenant reads nothing from any of the tables.
    const client = new Client({ connectionString: testDb.appUrl });
    await client.connect();
    try {
      for (const table of [
        'sov_residency_rules',
        'sov_regional_deployments',
        'sov_routing_policies',
        'sov_compliance_maps',
        'sov_sovereign_models',
        'sov_residency_decisions',
      ]) {
        const { rows } = await client.query<{ n: string }>(`select count(*) as n from ${table}`);
        expect([table, Number(rows[0]!.n)]).toEqual([table, 0]);
      }
    } finally {
      await client.end();
    }
  });

  it('writes exactly the listed events, in the same transaction as each change', async () => {
    const db = database.db;
    const rules = new PostgresRules(db, writer);
    const models = new PostgresModels(db, writer);
    const deployments = new PostgresDeployments(db, writer);
    const decisions = new PostgresDecisionLog(db, writer);
    await as('gamma', async () => {
      const r = (await rules.create(rule, 100)) as { id: string };
      await rules.update(r.id, { ...rule, priority: 3 });
      await rules.remove(r.id);
      const m = await models.register({
        modelRef: 'llama',
        name: 'llama',
        version: '1',
        jurisdiction: 'EU',
      });
      await models.decide(m.id, 'APPROVED', 'gamma-admin', 'ok');
      await models.decide(m.id, 'REVOKED', 'gamma-admin', 'withdrawn');
      await expect(models.decide(m.id, 'APPROVED', 'gamma-admin', '')).rejects.toMatchObject({
        code: 'state.conflict',
      });
      const d = await deployments.create(randomUUID(), {
        jurisdiction: 'DE',
        region: 'r',
        namespace: 'n',
        modelId: 'llama',
        modelVersion: '',
        image: 'i',
        replicas: 1,
        mode: 'apply',
      });
      await deployments.transition(d.id, 'DEPLOYING', 'applied', 'http://x');
      await deployments.transition(d.id, 'ACTIVE', 'ready');
      await expect(deployments.transition(d.id, 'PENDING', '')).rejects.toMatchObject({
        code: 'state.conflict',
      });
      await deployments.transition(d.id, 'DECOMMISSIONED', 'done');
      await decisions.record({
        taskId: 't1',
        dataJurisdiction: 'DE',
        classification: 'pii',
        attempted: ['US'],
        ruleId: 'r',
        allowed: false,
        reason: 'only EU',
      });
      await decisions.record({
        taskId: 't2',
        dataJurisdiction: 'DE',
        classification: 'pii',
        attempted: ['FR'],
        ruleId: 'r',
        allowed: true,
        reason: 'ok',
      });
      // A violation learnt from another service's event is counted once and not republished.
      for (let i = 0; i < 2; i++)
        await decisions.record({
          taskId: 't3',
          dataJurisdiction: 'DE',
          classification: 'pii',
          attempted: ['US'],
          ruleId: 'r',
          allowed: false,
          reason: 'x',
          eventId: 'evt-1',
        });
      expect(await decisions.lastDay()).toEqual({ decisions: 3, violations: 2 });
    });
    const written = await outboxOf('gamma');
    expect(written.map((e) => `${e.topic} ${e.type}`)).toEqual([
      'sovereign.residency residency.rule_created',
      'sovereign.residency residency.rule_updated',
      'sovereign.residency residency.rule_deleted',
      'sovereign.registry model.registered',
      'sovereign.registry model.approved',
      'sovereign.registry model.revoked',
      'sovereign.deployment deployment.initiated',
      'sovereign.deployment deployment.deploying',
      'sovereign.deployment deployment.active',
      'sovereign.deployment deployment.decommissioned',
      'sovereign.residency residency.violation',
    ]);
    const revoked = payloadOf(written[5]!.envelope, 'model.revoked');
    expect(revoked).toMatchObject({ actor: 'gamma-admin', reason: 'withdrawn', previousStatus: 2 });
    expect(payloadOf(written[10]!.envelope, 'residency.violation')).toMatchObject({
      taskId: 't1',
      decidedByRule: 'r',
      attemptedJurisdictions: ['US'],
    });
  });

  it('never lets concurrent creates pass the per-tenant rule limit', async () => {
    const rules = new PostgresRules(database.db, writer);
    const results = await Promise.all(
      Array.from({ length: 25 }, () => as('delta', () => rules.create(rule, 7))),
    );
    expect(results.filter((r) => r !== 'limit')).toHaveLength(7);
    expect(await as('delta', () => rules.all())).toHaveLength(7);
  });
});
