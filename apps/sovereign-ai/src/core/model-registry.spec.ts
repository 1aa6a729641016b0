import { JurisdictionRegistry } from '@aion/jurisdictions';
import type { ModelStatus, SovereignModel } from './model';
import { approvalFor, assertModelTransition, canMoveModel } from './model-registry';

const model = (status: ModelStatus, over: Partial<SovereignModel> = {}): SovereignModel => ({
  id: 'm1',
  tenantId: 't',
  modelRef: 'hf:meta/llama-3.1-8b',
  name: 'llama-3.1-8b',
  version: '2024-07',
  jurisdiction: 'EU',
  status,
  registeredBy: '',
  registeredByOwner: '',
  decidedBy: '',
  decisionReason: '',
  createdAt: new Date(0),
  updatedAt: new Date(0),
  ...over,
});

describe('model approval state machine', () => {
  const legal: [ModelStatus, ModelStatus][] = [
    ['PENDING', 'APPROVED'],
    ['PENDING', 'REJECTED'],
    ['APPROVED', 'REVOKED'],
  ];
  const all: ModelStatus[] = ['PENDING', 'APPROVED', 'REJECTED', 'REVOKED'];

  it.each(legal)('allows %s -> %s', (from, to) => {
    expect(canMoveModel(from, to)).toBe(true);
    expect(() => assertModelTransition(model(from), to as 'APPROVED')).not.toThrow();
  });

  const illegal = all.flatMap((from) =>
    all
      .filter((to) => !legal.some(([f, t]) => f === from && t === to))
      .map((to) => [from, to] as [ModelStatus, ModelStatus]),
  );
  it.each(illegal)('refuses %s -> %s with state.conflict', (from, to) => {
    expect(canMoveModel(from, to)).toBe(false);
    expect(() => assertModelTransition(model(from), to as 'APPROVED')).toThrow(
      expect.objectContaining({ code: 'state.conflict' }),
    );
  });
});

describe('approvalFor', () => {
  const jurisdictions = new JurisdictionRegistry();
  it('finds an APPROVED entry by id, reference or name whose jurisdiction covers the target', () => {
    const models = [model('APPROVED')];
    for (const ref of ['m1', 'hf:meta/llama-3.1-8b', 'llama-3.1-8b'])
      expect(approvalFor(models, ref, '', 'DE', jurisdictions)?.id).toBe('m1');
    expect(approvalFor(models, 'm1', '', 'US', jurisdictions)).toBeUndefined();
    expect(approvalFor(models, 'm1', 'other-version', 'DE', jurisdictions)).toBeUndefined();
  });

  it('ignores entries that are not APPROVED', () => {
    for (const status of ['PENDING', 'REJECTED', 'REVOKED'] as const)
      expect(approvalFor([model(status)], 'm1', '', 'DE', jurisdictions)).toBeUndefined();
  });
});
