import { DataClassification } from '@aion/contracts';
import { currentTenant } from '@aion/tenancy';
import type { TaskRecord } from '../../core/ports';
import { observabilityDecisions } from './tenant-decisions';

// The observability client is the port here: a fake that answers like DecideLlmTrace and
// records who asked (the real RPC is covered in apps/observability's llm-tracing tests).
function fakeClient(answer: (tenantId: string) => Promise<Record<string, unknown>>) {
  const calls: { tenantId: string | undefined; jurisdiction: string; classification: number }[] =
    [];
  return {
    calls,
    client: {
      decideLlmTrace: async (req: {
        dataContext?: { jurisdiction: string; classification: number };
      }) => {
        const tenantId = currentTenant()?.tenantId;
        calls.push({ tenantId, ...req.dataContext! });
        return answer(tenantId ?? '');
      },
    },
  };
}

const record = (tenantId: string, classification = 'none') =>
  ({
    tenantId,
    request: { data_context: { jurisdiction: 'DE', classification } },
  }) as unknown as TaskRecord;

const sending = {
  send: true,
  mask: true,
  langfuseUrl: 'https://langfuse.de.example',
  publicKey: 'pk',
  secretKey: 'sk',
  reason: '',
};

describe('observabilityDecisions', () => {
  it("asks as the task's tenant and maps the answer to a target", async () => {
    const { client, calls } = fakeClient(async () => sending);
    // The fake stands for the generated client; only decideLlmTrace is used.
    const decide = observabilityDecisions(client as never);
    expect(await decide(record('acme', 'pii'))).toEqual({
      send: true,
      mask: true,
      target: { url: 'https://langfuse.de.example', publicKey: 'pk', secretKey: 'sk' },
    });
    expect(calls).toEqual([
      { tenantId: 'acme', jurisdiction: 'DE', classification: DataClassification.PII },
    ]);
  });

  it('keeps a decision per tenant and data context, shared by tasks ending together', async () => {
    const { client, calls } = fakeClient(async (tenant) =>
      tenant === 'acme' ? sending : { send: false, reason: 'not opted in' },
    );
    const decide = observabilityDecisions(client as never, { ttlMs: 60_000 });
    const together = await Promise.all([decide(record('acme')), decide(record('acme'))]);
    expect(together[0]).toBe(together[1]);
    await decide(record('acme'));
    expect(await decide(record('globex'))).toEqual({ send: false, reason: 'not opted in' });
    await decide(record('acme', 'pii'));
    const { NONE, PII } = DataClassification;
    expect(calls.map((c) => `${c.tenantId}/${c.classification}`)).toEqual([
      `acme/${NONE}`,
      `globex/${NONE}`,
      `acme/${PII}`,
    ]);
  });

  it('asks again after the time to keep, and after a failure', async () => {
    let fail = true;
    const { client, calls } = fakeClient(async () => {
      if (fail) throw new Error('observability unavailable');
      return sending;
    });
    const decide = observabilityDecisions(client as never, { ttlMs: 50 });
    await expect(decide(record('acme'))).rejects.toThrow('observability unavailable');
    fail = false;
    expect(await decide(record('acme'))).toMatchObject({ send: true });
    await decide(record('acme'));
    expect(calls).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await decide(record('acme'));
    expect(calls).toHaveLength(3);
  });
});
