import { SovereignResidency } from './sovereign-residency';

type Client = ConstructorParameters<typeof SovereignResidency>[0];

/** A sovereign-ai client answering every question with one rule, counting the questions. */
function fakeClient(answer: () => Promise<unknown>) {
  const asked = { count: 0 };
  const client = {
    enforceResidency: () => {
      asked.count++;
      return answer();
    },
  } as unknown as Client;
  return { client, asked };
}

const decision = {
  unrestricted: false,
  allowedJurisdictions: ['EU'],
  deniedJurisdictions: [],
  decidedByRule: 'rule-eu',
  reason: 'EU data stays in the EU',
  allowedModels: [],
  blockedModels: [],
  modelApprovalRequired: false,
};
const data = { jurisdiction: 'DE', classification: 'pii' as const };

describe('SovereignResidency cache', () => {
  it('has nothing at hand until an answer arrived, then the answer until it expires or is invalidated', async () => {
    let now = 0;
    const { client, asked } = fakeClient(async () => decision);
    const residency = new SovereignResidency(client, 1000, 500, () => now);
    expect(residency.cached('t1', data)).toBeUndefined();
    const pending = residency.decide('t1', data);
    expect(residency.cached('t1', data)).toBeUndefined(); // asked, not answered yet
    await pending;
    expect(residency.cached('t1', data)).toMatchObject({ rule: 'rule-eu', allowed: ['EU'] });
    expect(residency.cached('t2', data)).toBeUndefined();
    expect(residency.cached('t1', { ...data, classification: 'none' })).toBeUndefined();
    now = 1000;
    expect(residency.cached('t1', data)).toBeUndefined();
    await residency.decide('t1', data);
    residency.invalidate('t1');
    expect(residency.cached('t1', data)).toBeUndefined();
    expect(asked.count).toBe(2);
  });

  it('never holds a failed answer', async () => {
    const { client } = fakeClient(async () => {
      throw new Error('sovereign-ai unreachable');
    });
    const residency = new SovereignResidency(client, 1000, 500);
    await expect(residency.decide('t1', data)).rejects.toThrow('unreachable');
    expect(residency.cached('t1', data)).toBeUndefined();
  });
});
