import { AionError } from '@aion/errors';
import { prometheusRule, validateAlertRule, type AlertRuleInput } from './alert-rules';
import { promqlProblems } from './promql';

const input = (over: Partial<AlertRuleInput> = {}): AlertRuleInput => ({
  name: 'GatewayErrors',
  expression: 'sum(rate(aion_http_requests_total{service="gateway",status=~"5.."}[5m])) > 1',
  forDuration: '5m',
  severity: 'warning',
  labels: { team: 'edge' },
  annotations: { summary: 'The gateway answers 5xx' },
  ...over,
});

const fieldsOf = (over: Partial<AlertRuleInput>) => {
  try {
    validateAlertRule(input(over));
  } catch (err) {
    expect((err as AionError).code).toBe('validation.invalid_argument');
    return ((err as AionError).details ?? []).map((d) => d.field);
  }
  throw new Error('expected a validation error');
};

describe('promqlProblems', () => {
  it.each([
    'up == 0',
    'sum by (route) (rate(aion_http_requests_total[5m])) > 0',
    'histogram_quantile(0.95, sum by (le) (rate(aion_grpc_server_handling_seconds_bucket[5m]))) > 0.5',
    'quantile_over_time(0.9, aion_dependency_up[10m]) < 1',
    'max_over_time(rate(x[1m])[10m:1m]) > 3',
    'rate(x[5m] offset 1m) > 0',
    'increase(x[5m] @ 100) > 0',
  ])('accepts %s', (q) => expect(promqlProblems(q)).toEqual([]));

  it.each([
    ['rate(x[5m] >', 'syntax error at character 13'],
    ['x{a="b"', 'syntax error at character 8'],
    ['sum(x) by', 'syntax error at character 10'],
    ['rate(x) > 1', 'rate() needs a range vector, e.g. rate(metric[5m])'],
    ['quantile_over_time(0.9, x)', expect.stringContaining('quantile_over_time() needs')],
    ['  ', 'is empty'],
  ])('refuses %s', (q, message) => expect(promqlProblems(q)).toEqual([message]));
});

describe('validateAlertRule', () => {
  it('accepts a well-formed rule', () => {
    expect(validateAlertRule(input())).toEqual(input());
    expect(validateAlertRule(input({ forDuration: '' })).forDuration).toBe('');
  });

  it('lists every problem at once', () => {
    expect(
      fieldsOf({
        name: '1 bad name',
        expression: 'rate(x)',
        forDuration: '5 minutes',
        severity: 'fatal' as AlertRuleInput['severity'],
        labels: { tenant_id: 'other', __name__: 'x', 'a-b': 'c', aion_slo_id: 's' },
        annotations: { ok: 'x'.repeat(1001) },
      }).sort(),
    ).toEqual([
      'annotations.ok',
      'expression',
      'for',
      'labels.__name__',
      'labels.a-b',
      'labels.aion_slo_id',
      'labels.tenant_id',
      'name',
      'severity',
    ]);
  });

  it('allows line breaks in annotations, no control characters in labels', () => {
    expect(
      validateAlertRule(input({ annotations: { description: 'a\n\tb' } })).annotations,
    ).toEqual({ description: 'a\n\tb' });
    expect(fieldsOf({ labels: { team: 'a\nb' }, annotations: { x: '\u0085' } }).sort()).toEqual([
      'annotations.x',
      'labels.team',
    ]);
  });

  it('refuses templates in labels and annotations', () => {
    expect(
      fieldsOf({ labels: { team: '{{ $value }}' }, annotations: { summary: 'x {{ .Bad' } }).sort(),
    ).toEqual(['annotations.summary', 'labels.team']);
  });

  it('points SLO burn-rate references to the SLO', () => {
    expect(fieldsOf({ expression: 'slo:6f1c0b7e' })).toEqual(['expression']);
  });
});

describe('prometheusRule', () => {
  it("limits the expression to the tenant's series and sets severity, tenant and rule id", () => {
    const rule = prometheusRule({
      ...input(),
      id: 'r1',
      tenantId: 'acme',
      syncStatus: 'pending',
      syncError: '',
      createdAt: new Date(0),
      updatedAt: new Date(0),
    });
    expect(rule).toEqual({
      alert: 'GatewayErrors',
      expr: 'sum(rate(aion_http_requests_total{tenant_id="acme",service="gateway",status=~"5.."}[5m])) > 1',
      for: '5m',
      labels: { team: 'edge', severity: 'warning', tenant_id: 'acme', aion_alert_rule_id: 'r1' },
      annotations: { summary: 'The gateway answers 5xx' },
    });
  });
});
