import { randomUUID } from 'node:crypto';
import { AionError } from '@aion/errors';
import { JurisdictionRegistry } from '@aion/jurisdictions';
import { requireTenant, runWithTenant } from '@aion/tenancy';
import type { SovereignModel } from './model';
import { assertModelTransition } from './model-registry';
import type { ModelStore } from './ports';
import { RegistryService } from './registry-service';

/** The registry in memory; like the PostgreSQL store it records who registered each model. */
class MemoryModels implements Pick<ModelStore, 'register' | 'get' | 'decide'> {
  readonly rows = new Map<string, SovereignModel>();
  async register(m: Pick<SovereignModel, 'modelRef' | 'name' | 'version' | 'jurisdiction'>) {
    const row: SovereignModel = {
      ...m,
      id: randomUUID(),
      tenantId: requireTenant().tenantId,
      status: 'PENDING',
      registeredBy: requireTenant().subject,
      registeredByOwner: requireTenant().owner,
      decidedBy: '',
      decisionReason: '',
      createdAt: new Date(),
      updatedAt: new Date(),
    };
    this.rows.set(row.id, row);
    return row;
  }
  async get(id: string) {
    return this.rows.get(id);
  }
  async decide(id: string, to: 'APPROVED' | 'REJECTED' | 'REVOKED', actor: string, reason: string) {
    const row = this.rows.get(id);
    if (!row) throw new AionError('resource.not_found', `model ${id} not found`);
    assertModelTransition(row, to);
    const next = { ...row, status: to, decidedBy: actor, decisionReason: reason };
    this.rows.set(id, next);
    return next;
  }
}

/** Runs `fn` as credential `subject`; a `key:<x>` credential is owned by `user:<x>` unless told. */
const as = <T>(subject: string, fn: () => Promise<T>, roles = ['admin'], owner?: string) =>
  runWithTenant(
    {
      tenantId: 'acme',
      subject,
      owner: owner ?? subject.replace(/^key:/, 'user:'),
      roles,
      requestId: 'r',
    },
    fn,
  );

function registry(settings?: { twoPersonApproval: boolean }) {
  const models = new MemoryModels();
  const args = [
    models as unknown as ModelStore,
    new JurisdictionRegistry(),
    () => undefined,
  ] as const;
  const service = settings ? new RegistryService(...args, settings) : new RegistryService(...args);
  const register = (subject: string, owner?: string) =>
    as(
      subject,
      () =>
        service.register({ modelRef: 'llama-3.1-8b', name: '', version: '', jurisdiction: 'EU' }),
      ['admin'],
      owner,
    );
  return { service, models, register };
}

describe('the two-person rule of the model registry', () => {
  it('refuses the person that registered a model its approval, naming the rule', async () => {
    const { service, models, register } = registry({ twoPersonApproval: true });
    const model = await register('key:alice');
    expect(model).toMatchObject({ registeredBy: 'key:alice', registeredByOwner: 'user:alice' });
    await expect(as('key:alice', () => service.decide(model.id, 'APPROVED', ''))).rejects.toEqual(
      expect.objectContaining({
        code: 'auth.forbidden',
        message: expect.stringMatching(
          /two-person rule.*user:alice registered.*AION_SOVEREIGN_MODEL_APPROVAL_TWO_PERSON/,
        ),
        details: [expect.objectContaining({ field: 'id', reason: 'two_person_rule' })],
      }),
    );
    expect(models.rows.get(model.id)!.status).toBe('PENDING');
  });

  it("refuses the registrant's other credentials too: a second key, a login", async () => {
    const { service, models, register } = registry({ twoPersonApproval: true });
    const model = await register('key:alice-1', 'user:alice');
    for (const subject of ['key:alice-2', 'user:alice'])
      await expect(
        as(subject, () => service.decide(model.id, 'APPROVED', ''), ['admin'], 'user:alice'),
      ).rejects.toMatchObject({ code: 'auth.forbidden' });
    expect(models.rows.get(model.id)!.status).toBe('PENDING');
    await expect(
      as('key:bob-1', () => service.decide(model.id, 'APPROVED', ''), ['admin'], 'user:bob'),
    ).resolves.toMatchObject({ status: 'APPROVED', decidedBy: 'key:bob-1' });
  });

  it('lets another principal approve it, and the registrant reject or revoke it', async () => {
    const { service, register } = registry({ twoPersonApproval: true });
    const model = await register('key:alice');
    const approved = await as('key:bob', () =>
      service.decide(model.id, 'APPROVED', 'reviewed the model card'),
    );
    expect(approved).toMatchObject({ status: 'APPROVED', decidedBy: 'key:bob' });
    await expect(
      as('key:alice', () => service.decide(approved.id, 'REVOKED', 'withdrawn')),
    ).resolves.toMatchObject({ status: 'REVOKED', decidedBy: 'key:alice' });
    const withdrawn = await register('user:alice');
    await expect(
      as('user:alice', () => service.decide(withdrawn.id, 'REJECTED', 'registered by mistake')),
    ).resolves.toMatchObject({ status: 'REJECTED' });
  });

  it('is on unless turned off; turned off, the registrant may approve', async () => {
    const byDefault = registry();
    const model = await byDefault.register('key:alice');
    await expect(
      as('key:alice', () => byDefault.service.decide(model.id, 'APPROVED', '')),
    ).rejects.toMatchObject({ code: 'auth.forbidden' });

    const off = registry({ twoPersonApproval: false });
    const own = await off.register('key:alice');
    await expect(
      as('key:alice', () => off.service.decide(own.id, 'APPROVED', '')),
    ).resolves.toMatchObject({ status: 'APPROVED' });
  });

  it('lets anyone with models:approve approve a model whose registrant was never recorded', async () => {
    const { service, models, register } = registry({ twoPersonApproval: true });
    const model = await register('key:alice');
    // Registered before the registry recorded registrants (migration 0003 leaves it empty).
    models.rows.set(model.id, { ...model, registeredBy: '', registeredByOwner: '' });
    await expect(
      as('key:alice', () => service.decide(model.id, 'APPROVED', '')),
    ).resolves.toMatchObject({ status: 'APPROVED' });
  });

  it('still needs models:approve, and answers not found for an unknown id', async () => {
    const { service, register } = registry({ twoPersonApproval: true });
    const model = await register('key:alice');
    await expect(
      as('key:dev', () => service.decide(model.id, 'APPROVED', ''), ['developer']),
    ).rejects.toMatchObject({ code: 'auth.forbidden' });
    await expect(
      as('key:bob', () => service.decide(randomUUID(), 'APPROVED', '')),
    ).rejects.toMatchObject({ code: 'resource.not_found' });
  });
});
