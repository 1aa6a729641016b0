import type { AlertRule } from './alert-rules';
import type { RuleFile } from './burn-rate';
import type { Slo } from './model';
import { RuleSync, tenantRuleFile } from './rule-sync';

const slo = {
  id: 's1',
  tenantId: 'acme',
  name: 'a',
  service: 'gateway',
  objective: 0.99,
  windowDays: 30,
  goodSelector: 'g',
  totalSelector: 't',
} as Slo;
const rule = {
  id: 'r1',
  tenantId: 'acme',
  name: 'R',
  expression: 'vector(1)',
  forDuration: '',
  severity: 'info',
  labels: {},
  annotations: {},
} as unknown as AlertRule;
const page =
  <T>(items: T[]) =>
  async () => ({ items, total: items.length });

describe('tenantRuleFile', () => {
  it("holds each SLO's group and one group of the custom rules", () => {
    const file = tenantRuleFile('acme', [slo], [rule]);
    expect(file.groups.map((g) => g.name)).toEqual(['aion-slo-s1', 'aion-tenant-acme-custom']);
    expect(tenantRuleFile('acme', [], []).groups).toEqual([]);
  });
});

describe('RuleSync', () => {
  it('writes the whole file and marks the rules synced, or failed with the reason', async () => {
    const marks: [string, string][] = [];
    const written: RuleFile[] = [];
    let fail = false;
    const sync = new RuleSync(
      {
        slos: page([slo]),
        alertRules: page([rule]),
        markAlertRules: async (status, error) => void marks.push([status, error]),
      },
      {
        write: async (_t, file) => {
          if (fail) throw new Error('Prometheus did not answer the reload');
          written.push(file);
        },
      },
    );
    await sync.syncTenant('acme');
    fail = true;
    await sync.syncTenant('acme');
    expect(written).toHaveLength(1);
    expect(marks).toEqual([
      ['synced', ''],
      ['failed', 'Prometheus did not answer the reload'],
    ]);
  });

  it('runs one sync per tenant at a time, in order', async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const sync = new RuleSync(
      { slos: page([slo]), alertRules: page([]), markAlertRules: async () => undefined },
      {
        write: async () => {
          const n = ++calls;
          order.push(`start ${n}`);
          if (n === 1) await gate;
          order.push(`end ${n}`);
        },
      },
    );
    const first = sync.syncTenant('acme');
    const second = sync.syncTenant('acme');
    await new Promise((r) => setTimeout(r, 10));
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['start 1', 'end 1', 'start 2', 'end 2']);
  });
});
