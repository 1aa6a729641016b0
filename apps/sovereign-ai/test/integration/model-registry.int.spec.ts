import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeEnvelope, payloadOf } from '@aion/events';
import { uniqueName, type TestDatabase } from '@aion/testing';
import { migratedDatabase, startSovereign } from './running-sovereign';

// The two-person rule of the model registry (security finding 11), through sovereign-ai's gRPC
// API on real PostgreSQL, Kafka and Redis.

const scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-sov-registry-'));
const APPROVED = 2;
const PENDING = 1;
let db: TestDatabase;

beforeAll(async () => {
  db = await migratedDatabase('sovregistry');
});

afterAll(async () => {
  await db?.drop();
  rmSync(scratch, { recursive: true, force: true });
});

const render = { AION_SOVEREIGN_K8S_MODE: 'render', AION_SOVEREIGN_MANIFESTS_DIR: scratch };
const model = (modelRef: string) => ({ modelRef, name: '', version: '', jurisdiction: 'EU' });

/** The audit records of a tenant, as the outbox relay publishes them. */
async function auditOf(tenantId: string) {
  const rows = await db.queryAsOwner<{ value: Buffer }>(
    `select value from sov_outbox where tenant_id = $1 and event_type = 'audit.recorded' order by seq`,
    [tenantId],
  );
  return rows.map((r) => payloadOf(decodeEnvelope(r.value), 'audit.recorded'));
}

describe('the two-person rule of the model registry', () => {
  it('is on by default: the registrant may not approve, another principal may; the refusal is audited', async () => {
    const sovereign = await startSovereign(db, render);
    const tenant = uniqueName('two-person');
    try {
      const { model: registered } = await sovereign.as(tenant, 'key:alice', (c) =>
        c.registerModel(model('llama-3.1-8b')),
      );
      const id = registered!.id;
      const [row] = await db.queryAsOwner<{ registered_by: string }>(
        'select registered_by from sov_sovereign_models where id = $1',
        [id],
      );
      expect(row?.registered_by).toBe('key:alice');

      await expect(
        sovereign.as(tenant, 'key:alice', (c) => c.approveModel({ id, reason: 'mine, fine' })),
      ).rejects.toMatchObject({
        code: 'auth.forbidden',
        message: expect.stringContaining('two-person rule'),
      });
      const still = await sovereign.as(tenant, 'key:bob', (c) => c.getModel({ id }));
      expect(still.model?.status).toBe(PENDING);

      const approved = await sovereign.as(tenant, 'key:bob', (c) =>
        c.approveModel({ id, reason: 'reviewed' }),
      );
      expect(approved.model).toMatchObject({ status: APPROVED, decidedBy: 'key:bob' });

      const decisions = (await auditOf(tenant)).filter((a) => a.action === 'model.approved');
      expect(decisions).toEqual([
        expect.objectContaining({ actor: 'key:alice', resourceId: id, outcome: 'denied' }),
        expect.objectContaining({ actor: 'key:bob', resourceId: id, outcome: 'success' }),
      ]);
      expect(decisions[0]!.details).toMatchObject({
        error_code: 'auth.forbidden',
        reason: 'mine, fine',
      });
    } finally {
      await sovereign.stop();
    }
  }, 90_000);

  it('lets the registrant approve when AION_SOVEREIGN_MODEL_APPROVAL_TWO_PERSON=false', async () => {
    const sovereign = await startSovereign(db, {
      ...render,
      AION_SOVEREIGN_MODEL_APPROVAL_TWO_PERSON: 'false',
    });
    const tenant = uniqueName('one-person');
    try {
      const { model: registered } = await sovereign.as(tenant, 'key:carol', (c) =>
        c.registerModel(model('mistral-7b')),
      );
      const approved = await sovereign.as(tenant, 'key:carol', (c) =>
        c.approveModel({ id: registered!.id, reason: 'lab setup' }),
      );
      expect(approved.model).toMatchObject({ status: APPROVED, decidedBy: 'key:carol' });
    } finally {
      await sovereign.stop();
    }
  }, 90_000);
});
