import { AlertService, type ActiveAlert, type AlertNotification } from './alerts';

const alert = (labels: Record<string, string>, status: 'firing' | 'resolved' = 'firing') =>
  ({
    fingerprint: 'abc',
    status,
    labels,
    annotations: {},
    startsAt: new Date(0),
  }) satisfies AlertNotification;

describe('AlertService', () => {
  it('records each alert as the tenant its tenant_id label names, and skips alerts that name none or an invalid one', async () => {
    const seen: [string, string][] = [];
    let current = '';
    const service = new AlertService(
      {
        record: async (a) => {
          seen.push([current, a.status]);
          return a.status === 'firing' ? 'fired' : 'resolved';
        },
      },
      { active: async () => [] },
      async (tenantId, fn) => {
        current = tenantId;
        return fn();
      },
    );
    const result = await service.receive([
      alert({ tenant_id: 'acme' }),
      alert({ tenant_id: 'globex' }, 'resolved'),
      alert({ alertname: 'platform' }),
      alert({ tenant_id: '../../etc' }),
    ]);
    expect(result).toEqual({ fired: 1, resolved: 1, unchanged: 0, unowned: 2 });
    expect(seen).toEqual([
      ['acme', 'firing'],
      ['globex', 'resolved'],
    ]);
  });

  it("never answers another tenant's alert, whatever Alertmanager returns", async () => {
    const of = (tenant: string): ActiveAlert => ({
      fingerprint: tenant,
      labels: { tenant_id: tenant },
      annotations: {},
      startsAt: new Date(0),
      state: 'active',
    });
    const service = new AlertService(
      { record: async () => 'unchanged' },
      { active: async () => [of('acme'), of('globex')] },
      async (_t, fn) => fn(),
    );
    expect((await service.active('acme')).map((a) => a.fingerprint)).toEqual(['acme']);
    await expect(service.active('')).rejects.toMatchObject({ code: 'auth.forbidden' });
  });
});
