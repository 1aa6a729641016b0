import { rmSync } from 'node:fs';
import { InternalTokens } from '@aion/auth';
import { LearningGovernanceService } from '@aion/contracts';
import { migratePostgres, openPostgres, type Database } from '@aion/db';
import { AuditTrail, OutboxWriter } from '@aion/events';
import { createGrpcClient, GrpcServer } from '@aion/grpc';
import { runWithTenant } from '@aion/tenancy';
import { createTestDatabase, uniqueName, type TestDatabase, migrationsUpTo } from '@aion/testing';
import { PostgresGovernance } from '../../src/adapters/db/governance-repository';
import { outbox } from '../../src/adapters/db/schema';
import { registerGovernanceApi } from '../../src/api/governance-handlers';
import { GovernanceService } from '../../src/core/governance';
import { migrations } from './support/replica';

// Four eyes on prompt approvals compare people, not credentials (security finding 11): the
// orchestrator's governance API over gRPC with internal tokens, as the gateway calls it, on real
// PostgreSQL.

const SECRET = 'governance-int-test-secret-0123456789abcdef';

/** The governance API of one orchestrator on `testDb`, and a client that calls it as someone. */
async function startGovernance(testDb: TestDatabase) {
  const database: Database = openPostgres({ url: testDb.appUrl, max: 4 });
  const tokens = new InternalTokens(SECRET, 'orchestrator');
  const server = new GrpcServer({ tokens });
  const audit = new AuditTrail(database.db, new OutboxWriter(outbox, 'aion/orchestrator-test'));
  registerGovernanceApi(server, new GovernanceService(new PostgresGovernance(database.db), audit));
  const port = await server.start('127.0.0.1', 0);
  server.setServing('SERVING');
  const client = createGrpcClient(LearningGovernanceService, `127.0.0.1:${port}`, {
    tokens: new InternalTokens(SECRET, 'gateway'),
  });
  /** Calls as an admin of `tenantId` holding credential `subject` of person `owner`. */
  const as = <T>(
    tenantId: string,
    who: { subject: string; owner?: string },
    fn: (c: typeof client) => Promise<T>,
  ) =>
    runWithTenant({ tenantId, ...who, roles: ['admin'], requestId: uniqueName('r') }, () =>
      fn(client),
    );
  return {
    as,
    stop: async () => {
      client.close();
      await server.shutdown(1000);
      await database.close();
    },
  };
}

type Governance = Awaited<ReturnType<typeof startGovernance>>;

async function pendingVersion(
  gov: Governance,
  tenantId: string,
  proposer: { subject: string; owner?: string },
) {
  await gov.as(tenantId, proposer, (c) =>
    c.upsertAgentRole({ name: 'legal', dailyUpdateLimit: 5, requiresApproval: true }),
  );
  const { version } = await gov.as(tenantId, proposer, (c) =>
    c.proposePromptUpdate({ role: 'legal', prompt: 'Cite the statute.', reason: 'audit' }),
  );
  expect(version).toMatchObject({ version: 1, status: 'pending_approval' });
  return version!.version;
}

describe('prompt approval compares the people behind credentials', () => {
  let testDb: TestDatabase;
  let gov: Governance;

  beforeAll(async () => {
    testDb = await createTestDatabase('orcgovernance');
    await migratePostgres(testDb.ownerUrl, migrations, { appRole: testDb.appRole });
    gov = await startGovernance(testDb);
  });

  afterAll(async () => {
    await gov?.stop();
    await testDb?.drop();
  });

  it("refuses an admin's second key the approval of what its first key proposed; another person approves", async () => {
    const tenant = uniqueName('four-eyes');
    const version = await pendingVersion(gov, tenant, { subject: 'key:k1', owner: 'user:alice' });
    const [row] = await testDb.queryAsOwner<{ proposed_by: string; proposed_by_owner: string }>(
      'select proposed_by, proposed_by_owner from orc_prompt_versions where tenant_id = $1',
      [tenant],
    );
    expect(row).toEqual({ proposed_by: 'key:k1', proposed_by_owner: 'user:alice' });

    await expect(
      gov.as(tenant, { subject: 'key:k2', owner: 'user:alice' }, (c) =>
        c.decidePromptUpdate({ role: 'legal', version, approve: true }),
      ),
    ).rejects.toMatchObject({
      code: 'auth.forbidden',
      message: expect.stringContaining('user:alice proposed legal@1'),
    });
    const listed = await gov.as(tenant, { subject: 'key:k1', owner: 'user:alice' }, (c) =>
      c.listPromptVersions({ role: 'legal' }),
    );
    expect(listed.versions.map((v) => v.status)).toEqual(['pending_approval']);

    const approved = await gov.as(tenant, { subject: 'key:k3', owner: 'user:bob' }, (c) =>
      c.decidePromptUpdate({ role: 'legal', version, approve: true, note: 'reviewed' }),
    );
    expect(approved.version).toMatchObject({ status: 'active', decidedBy: 'key:k3' });
  });

  it('lets the proposer reject its own proposal with any of its keys', async () => {
    const tenant = uniqueName('withdraw');
    const version = await pendingVersion(gov, tenant, { subject: 'key:k1', owner: 'user:alice' });
    const rejected = await gov.as(tenant, { subject: 'key:k2', owner: 'user:alice' }, (c) =>
      c.decidePromptUpdate({ role: 'legal', version, approve: false, note: 'withdrawn' }),
    );
    expect(rejected.version?.status).toBe('rejected');
  });

  it('owns a credential without an owner (a service, an older token) by its subject', async () => {
    const tenant = uniqueName('no-owner');
    const version = await pendingVersion(gov, tenant, { subject: 'learner' });
    await expect(
      gov.as(tenant, { subject: 'learner' }, (c) =>
        c.decidePromptUpdate({ role: 'legal', version, approve: true }),
      ),
    ).rejects.toMatchObject({ code: 'auth.forbidden' });
    await expect(
      gov.as(tenant, { subject: 'approver' }, (c) =>
        c.decidePromptUpdate({ role: 'legal', version, approve: true }),
      ),
    ).resolves.toMatchObject({ version: { status: 'active' } });
  });
});

describe("the governance seed's default agent roles", () => {
  let testDb: TestDatabase;
  let gov: Governance;

  beforeAll(async () => {
    testDb = await createTestDatabase('orcgovdefaults');
    await migratePostgres(testDb.ownerUrl, migrations, { appRole: testDb.appRole });
    gov = await startGovernance(testDb);
  });

  afterAll(async () => {
    await gov?.stop();
    await testDb?.drop();
  });

  it('gives every tenant developer (5 a day, 2 h apart) and security (always approved) roles', async () => {
    const tenant = uniqueName('defaults');
    const admin = { subject: 'key:k1', owner: 'user:alice' };
    const { roles } = await gov.as(tenant, admin, (c) => c.getGovernanceStatus({}));
    expect(
      roles.map((r) => [r.name, r.dailyUpdateLimit, r.cooldownSeconds, r.requiresApproval]),
    ).toEqual([
      ['developer', 5, 7200, false],
      ['security', 5, 7200, true],
    ]);
    const security = await gov.as(tenant, admin, (c) =>
      c.proposePromptUpdate({ role: 'security', prompt: 'Never log secrets.', reason: 'policy' }),
    );
    expect(security.version).toMatchObject({ status: 'pending_approval' });
    const developer = await gov.as(tenant, admin, (c) =>
      c.proposePromptUpdate({ role: 'developer', prompt: 'Prefer small diffs.', reason: 'review' }),
    );
    expect(developer.version).toMatchObject({ status: 'active' });
    // The cooldown holds: a second automatic update within 2 h is refused.
    await expect(
      gov.as(tenant, admin, (c) =>
        c.proposePromptUpdate({ role: 'developer', prompt: 'Prefer tests.', reason: 'again' }),
      ),
    ).rejects.toMatchObject({ code: 'rate_limit.exceeded' });
  });

  it("keeps an operator's change to a default role, on every replica", async () => {
    const tenant = uniqueName('override');
    const admin = { subject: 'key:k1', owner: 'user:alice' };
    await gov.as(tenant, admin, (c) =>
      c.upsertAgentRole({ name: 'developer', dailyUpdateLimit: 1, cooldownSeconds: 60 }),
    );
    // A replica that has not seen this tenant yet makes sure of the defaults: it keeps the change.
    const other = await startGovernance(testDb);
    try {
      const { roles } = await other.as(tenant, admin, (c) => c.getGovernanceStatus({}));
      expect(roles.find((r) => r.name === 'developer')).toMatchObject({
        dailyUpdateLimit: 1,
        cooldownSeconds: 60,
      });
    } finally {
      await other.stop();
    }
  });
});

describe('migration 0008_prompt_proposer_owner', () => {
  it("owns a version proposed before owners by its proposer's subject: that subject still may not approve it", async () => {
    const testDb = await createTestDatabase('orcgovmig');
    const before = migrationsUpTo(migrations.folder, '0007_circuit_breakers');
    let gov: Governance | undefined;
    try {
      await migratePostgres(
        testDb.ownerUrl,
        { ...migrations, folder: before },
        { appRole: testDb.appRole },
      );
      await testDb.queryAsOwner(
        `insert into orc_agent_roles (tenant_id, name, daily_update_limit, cooldown_seconds, requires_approval, last_version)
         values ('acme', 'legal', 5, 0, true, 1)`,
      );
      await testDb.queryAsOwner(
        `insert into orc_prompt_versions (tenant_id, role, version, prompt, source, status, proposed_by)
         values ('acme', 'legal', 1, 'Cite the statute.', 'automatic', 'pending_approval', 'key:old')`,
      );
      await migratePostgres(testDb.ownerUrl, migrations, { appRole: testDb.appRole });
      const [row] = await testDb.queryAsOwner<{ proposed_by_owner: string }>(
        `select proposed_by_owner from orc_prompt_versions where tenant_id = 'acme'`,
      );
      expect(row?.proposed_by_owner).toBe('key:old');

      gov = await startGovernance(testDb);
      await expect(
        gov.as('acme', { subject: 'key:old', owner: 'key:old' }, (c) =>
          c.decidePromptUpdate({ role: 'legal', version: 1, approve: true }),
        ),
      ).rejects.toMatchObject({ code: 'auth.forbidden' });
      await expect(
        gov.as('acme', { subject: 'user:carol', owner: 'user:carol' }, (c) =>
          c.decidePromptUpdate({ role: 'legal', version: 1, approve: true }),
        ),
      ).resolves.toMatchObject({ version: { status: 'active', decidedBy: 'user:carol' } });
    } finally {
      await gov?.stop();
      rmSync(before, { recursive: true, force: true });
      await testDb.drop();
    }
  });
});
