import type { MetricsReader } from './burn-rate-status';
import { MetricsQueryService } from './metrics-query';

const seen: string[] = [];
const reader: MetricsReader = {
  instant: async (q) => (seen.push(q), [{ labels: { tenant_id: 'acme' }, value: 1 }]),
  range: async (q) => (seen.push(q), []),
};
const service = new MetricsQueryService(reader);

describe('MetricsQueryService', () => {
  it('sends the query scoped to the tenant', async () => {
    const out = await service.query('acme', { query: 'up' });
    expect(seen.at(-1)).toBe('up{tenant_id="acme"}');
    expect(out[0]!.samples).toHaveLength(1);
    await service.query('acme', {
      query: 'up',
      start: new Date(0),
      end: new Date(60_000),
      stepSeconds: 15,
    });
    expect(seen.at(-1)).toBe('up{tenant_id="acme"}');
  });

  it('lists every problem of a range', async () => {
    const err = await service
      .query('acme', { query: 'x'.repeat(10_001), start: new Date(10), end: new Date(0) })
      .catch((e: unknown) => e);
    expect((err as { details: { field: string }[] }).details.map((d) => d.field)).toEqual([
      'query',
      'end',
      'step_seconds',
    ]);
    await expect(
      service.query('acme', {
        query: 'up',
        start: new Date(0),
        end: new Date(86_400_000),
        stepSeconds: 1,
      }),
    ).rejects.toMatchObject({ code: 'validation.invalid_argument' });
  });
});
