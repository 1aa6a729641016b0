import { AionError } from '@aion/errors';
import { promqlProblems } from './promql';
import { CONTROL } from './slo-spec';
import { scopeToTenant } from './tenant-query';
import type { Page, PageWindow } from './model';

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface AlertRuleInput {
  name: string;
  expression: string;
  /** Prometheus duration the condition must hold before the alert fires; '' for at once. */
  forDuration: string;
  severity: Severity;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface AlertRule extends AlertRuleInput {
  id: string;
  tenantId: string;
  syncStatus: 'pending' | 'synced' | 'failed';
  syncError: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface AlertRuleStore {
  page(window: PageWindow): Promise<Page<AlertRule>>;
  get(id: string): Promise<AlertRule | undefined>;
  /** Throws state.conflict when the tenant has a rule of that name. */
  create(rule: AlertRuleInput): Promise<AlertRule>;
  update(id: string, rule: AlertRuleInput): Promise<AlertRule | undefined>;
  remove(id: string): Promise<boolean>;
  /** Records how the last sync of the tenant's rules went. */
  markSync(status: 'synced' | 'failed', error: string): Promise<void>;
}

/** Prometheus's own rule: an alert name is a metric name. */
const ALERT_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]{0,199}$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,99}$/;
/** Prometheus durations, largest unit first: 90s, 1h30m, 2d. */
const DURATION = /^(\d{1,4}y)?(\d{1,4}w)?(\d{1,4}d)?(\d{1,4}h)?(\d{1,4}m)?(\d{1,4}s)?(\d{1,4}ms)?$/;
/** Set by the service on every rule: a rule may not set them itself. */
export const RESERVED_LABELS = ['tenant_id', 'severity', 'alertname', 'aion_alert_rule_id'];
const MAX_LABELS = 20;

/** Checks a custom alert rule as a whole; one error lists every problem. */
export function validateAlertRule(input: AlertRuleInput): AlertRuleInput {
  const problems: { field: string; message: string }[] = [];
  const problem = (field: string, message: string) => void problems.push({ field, message });
  if (!ALERT_NAME.test(input.name))
    problem('name', 'a Prometheus alert name: letters, digits, _ and :, not starting with a digit');
  if (input.expression.startsWith('slo:'))
    problem('expression', "an SLO's burn-rate alerts come with the SLO (GET /slos/{id}/rules)");
  else if (input.expression.length > 10_000) problem('expression', 'at most 10000 characters');
  else for (const p of promqlProblems(input.expression)) problem('expression', p);
  if (input.forDuration && !DURATION.test(input.forDuration))
    problem('for', 'a Prometheus duration such as 5m or 1h30m');
  if (!(SEVERITIES as readonly string[]).includes(input.severity))
    problem('severity', `one of ${SEVERITIES.join(', ')}`);
  // Annotations may hold tabs and line breaks (a description); nothing else that is a control.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  const ANNOTATION_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
  const checkMap = (
    field: string,
    map: Record<string, string>,
    reserved: readonly string[],
    control: RegExp,
  ) => {
    const entries = Object.entries(map);
    if (entries.length > MAX_LABELS) problem(field, `at most ${MAX_LABELS}`);
    for (const [name, value] of entries) {
      if (!LABEL_NAME.test(name) || name.startsWith('__'))
        problem(`${field}.${name}`, 'a label name: letters, digits and _, not starting with __');
      // aion_* labels tie alerts to SLOs and rules: a rule may not pose as another's.
      else if (reserved.includes(name) || (reserved.length && name.startsWith('aion_')))
        problem(`${field}.${name}`, 'is set by Aion');
      if (value.length > 1000 || control.test(value))
        problem(`${field}.${name}`, 'at most 1000 characters, no control characters');
      // Prometheus expands {{ }} as a template, and one template it cannot parse stops it loading
      // every tenant's rules: custom rules carry plain text.
      else if (value.includes('{{'))
        problem(`${field}.${name}`, 'plain text: templates ({{ ... }}) are not supported');
    }
  };
  checkMap('labels', input.labels, RESERVED_LABELS, CONTROL);
  checkMap('annotations', input.annotations, [], ANNOTATION_CONTROL);
  if (problems.length)
    throw AionError.validation(
      `the alert rule is invalid: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`,
      problems,
    );
  return input;
}

/**
 * Prometheus alerting rule of a custom rule: its selectors limited to the tenant's series, as a
 * query's are (scopeToTenant), and the tenant and the rule on its labels.
 */
export const prometheusRule = (r: AlertRule) => ({
  alert: r.name,
  expr: scopeToTenant(r.expression, r.tenantId),
  ...(r.forDuration ? { for: r.forDuration } : {}),
  labels: { ...r.labels, severity: r.severity, tenant_id: r.tenantId, aion_alert_rule_id: r.id },
  annotations: r.annotations,
});

/** Custom alert rules of the calling tenant. */
export class AlertRuleService {
  /** `changed` runs after every committed change (the rule sync). */
  constructor(
    private readonly rules: AlertRuleStore,
    private readonly changed: () => Promise<void> = async () => undefined,
  ) {}

  list(window: PageWindow) {
    return this.rules.page(window);
  }

  async get(id: string) {
    const rule = await this.rules.get(id);
    if (!rule) throw AionError.notFound('alert rule', id);
    return rule;
  }

  async create(input: AlertRuleInput) {
    const rule = await this.rules.create(validateAlertRule(input));
    await this.changed();
    // Read back: the sync has set its status.
    return (await this.rules.get(rule.id)) ?? rule;
  }

  async update(id: string, input: AlertRuleInput) {
    const rule = await this.rules.update(id, validateAlertRule(input));
    if (!rule) throw AionError.notFound('alert rule', id);
    await this.changed();
    return (await this.rules.get(id)) ?? rule;
  }

  async remove(id: string) {
    if (!(await this.rules.remove(id))) throw AionError.notFound('alert rule', id);
    await this.changed();
  }
}
