import { parse } from 'yaml';
import {
  burnRateAlerts,
  RECORDED_WINDOWS,
  sloRuleFile,
  sloRules,
  type RuleFile,
} from './burn-rate';
import type { Slo } from './model';

const slo: Slo = {
  id: '6f1c0b7e-4d7a-4a53-9e59-0a4f4c1f2a11',
  tenantId: 'acme',
  name: 'gateway-availability',
  service: 'gateway',
  sli: 'availability',
  metric: 'aion_http_requests_total',
  matchers: {},
  latencyThresholdMs: 0,
  objective: 0.995,
  windowDays: 30,
  description: '',
  goodSelector: 'aion_http_requests_total{service="gateway",status!~"5.."}',
  totalSelector: 'aion_http_requests_total{service="gateway"}',
  createdAt: new Date(0),
  updatedAt: new Date(0),
};

describe('burnRateAlerts', () => {
  it("is the workbook's table for a 30-day window", () => {
    expect(burnRateAlerts(0.995, 30)).toEqual([
      expect.objectContaining({
        severity: 'page',
        long: '1h',
        short: '5m',
        burnRate: 14.4,
        errorRatio: 0.072,
      }),
      expect.objectContaining({
        severity: 'page',
        long: '6h',
        short: '30m',
        burnRate: 6,
        errorRatio: 0.03,
      }),
      expect.objectContaining({
        severity: 'ticket',
        long: '3d',
        short: '6h',
        burnRate: 1,
        errorRatio: 0.005,
      }),
    ]);
  });

  it('scales the thresholds as budget fraction × period ÷ long window', () => {
    expect(burnRateAlerts(0.999, 28).map((a) => a.burnRate)).toEqual([13.44, 5.6, 0.933333]);
    expect(burnRateAlerts(0.999, 7).map((a) => a.burnRate)).toEqual([3.36, 1.4, 0.233333]);
    expect(burnRateAlerts(0.99, 90).map((a) => a.burnRate)).toEqual([43.2, 18, 3]);
  });

  it('needs enough traffic that one bad event alone never crosses the threshold', () => {
    const [fast, slow, ticket] = burnRateAlerts(0.995, 30);
    // 1/14 = 7.1% is under the 7.2% the fast page needs; 1/13 = 7.7% is over it.
    expect(fast!.minEvents).toBe(14);
    expect(1 / fast!.minEvents).toBeLessThanOrEqual(fast!.errorRatio);
    expect(1 / (fast!.minEvents - 1)).toBeGreaterThan(fast!.errorRatio);
    expect(slow!.minEvents).toBe(34);
    expect(ticket!.minEvents).toBe(200);
    // 1/16 = 6.25% would still exceed 6%; 1/500 equals 0.2% exactly and does not exceed it.
    expect(burnRateAlerts(0.99, 30)[1]!.minEvents).toBe(17);
    expect(burnRateAlerts(0.998, 30)[2]!.minEvents).toBe(500);
  });
});

describe('sloRules', () => {
  const file = sloRules(slo);
  const rules = file.groups[0]!.rules;

  it('records the error ratio and the event rate over every window, labelled with the SLO', () => {
    const records = rules.filter((r) => 'record' in r).map((r) => ('record' in r ? r.record : ''));
    expect(records).toEqual(
      RECORDED_WINDOWS.flatMap((w) => [
        `aion_slo:error_ratio:rate${w}`,
        `aion_slo:events:rate${w}`,
      ]),
    );
    const oneHour = rules.find((r) => 'record' in r && r.record === 'aion_slo:error_ratio:rate1h')!;
    expect(oneHour.expr).toBe(
      '1 - (sum(rate(aion_http_requests_total{service="gateway",status!~"5.."}[1h])) or vector(0)) / sum(rate(aion_http_requests_total{service="gateway"}[1h]))',
    );
    expect(oneHour.labels).toEqual({
      aion_slo_id: slo.id,
      aion_slo: 'gateway-availability',
      tenant_id: 'acme',
      service: 'gateway',
    });
  });

  it('pairs a long and a short window at the same threshold, with the traffic guard', () => {
    const alerts = rules.filter((r) => 'alert' in r);
    expect(alerts).toHaveLength(3);
    const id = `{aion_slo_id="${slo.id}"}`;
    expect(alerts[0]!.expr).toBe(
      [
        `aion_slo:error_ratio:rate1h${id} > 0.072`,
        `and aion_slo:error_ratio:rate5m${id} > 0.072`,
        `and aion_slo:events:rate1h${id} * 3600 >= 14`,
      ].join('\n'),
    );
    expect(alerts.map((a) => a.labels)).toEqual([
      expect.objectContaining({
        severity: 'page',
        long_window: '1h',
        short_window: '5m',
        tenant_id: 'acme',
      }),
      expect.objectContaining({ severity: 'page', long_window: '6h', short_window: '30m' }),
      expect.objectContaining({ severity: 'ticket', long_window: '3d', short_window: '6h' }),
    ]);
  });

  it('narrows every selector and labels every rule with a scope, and leaves out an empty tenant', () => {
    const scoped = sloRules({ ...slo, tenantId: '' }, { namespace: 'prod' }).groups[0]!.rules;
    const oneHour = scoped.find(
      (r) => 'record' in r && r.record === 'aion_slo:error_ratio:rate1h',
    )!;
    expect(oneHour.expr).toBe(
      '1 - (sum(rate(aion_http_requests_total{namespace="prod",service="gateway",status!~"5.."}[1h])) or vector(0)) / sum(rate(aion_http_requests_total{namespace="prod",service="gateway"}[1h]))',
    );
    expect(oneHour.labels).toEqual({
      aion_slo_id: slo.id,
      aion_slo: 'gateway-availability',
      service: 'gateway',
      namespace: 'prod',
    });
    const fast = scoped.find((r) => 'alert' in r)!;
    expect(fast.expr.split('\n')[2]).toBe(
      `and aion_slo:events:rate1h{aion_slo_id="${slo.id}",namespace="prod"} * 3600 >= 14`,
    );
    expect(fast.labels).not.toHaveProperty('tenant_id');
  });

  it('writes YAML that reads back as the same rules, with no folded expressions nor anchors', () => {
    const text = sloRuleFile(slo);
    expect(parse(text) as RuleFile).toEqual(JSON.parse(JSON.stringify(file)));
    expect(text).not.toMatch(/expr: >/);
    expect(text).not.toMatch(/&a\d|\*a\d/);
  });
});
