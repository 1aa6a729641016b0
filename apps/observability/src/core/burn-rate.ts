import { stringify } from 'yaml';
import type { Slo } from './model';

/** Windows the error ratio is recorded over: those of the alerts, and 2h and 1d for reading. */
export const RECORDED_WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'] as const;
export type Window = (typeof RECORDED_WINDOWS)[number];

const SECONDS: Record<Window, number> = {
  '5m': 300,
  '30m': 1800,
  '1h': 3600,
  '2h': 7200,
  '6h': 21_600,
  '1d': 86_400,
  '3d': 259_200,
};

/**
 * The SRE workbook's multi-window, multi-burn-rate policy: each alert fires when the error ratio
 * over a long window AND over a short one (a twelfth of it, so the alert stops soon after the
 * burn does) exceed the same burn rate. The alerts are ORed by being separate rules.
 */
export const BURN_RATE_POLICY = [
  { severity: 'page', budgetFraction: 0.02, long: '1h', short: '5m' },
  { severity: 'page', budgetFraction: 0.05, long: '6h', short: '30m' },
  { severity: 'ticket', budgetFraction: 0.1, long: '3d', short: '6h' },
] as const satisfies readonly {
  severity: string;
  budgetFraction: number;
  long: Window;
  short: Window;
}[];

/** Six significant digits: 0.1 * 28 d / 3 d reads 0.933333, and 1 - 0.995 reads 0.005. */
const tidy = (x: number) => Number(x.toPrecision(6));

export interface BurnRateAlert {
  severity: 'page' | 'ticket';
  long: Window;
  short: Window;
  budgetFraction: number;
  /** Burn rate (multiple of the sustainable error rate) both windows must exceed. */
  burnRate: number;
  /** The error ratio that burn rate means: burnRate × (1 - objective). */
  errorRatio: number;
  /**
   * Fewest events the long window must hold: fewer, and one bad event alone would exceed the
   * error ratio (one error in two requests is a 50% ratio, and must page no one).
   */
  minEvents: number;
}

/**
 * The alerts of an SLO: burn rate = budget fraction × period ÷ long window, which gives the
 * workbook's 14.4, 6 and 1 for a 30-day window and scales them for any other.
 */
export function burnRateAlerts(objective: number, windowDays: number): BurnRateAlert[] {
  const budget = tidy(1 - objective);
  const period = windowDays * SECONDS['1d'];
  return BURN_RATE_POLICY.map(({ severity, budgetFraction, long, short }) => {
    const burnRate = tidy((budgetFraction * period) / SECONDS[long]);
    const errorRatio = tidy(burnRate * budget);
    // 1/n > errorRatio for every n below this; the tolerance keeps 1/0.072 from rounding up.
    const minEvents = Math.max(1, Math.ceil(1 / errorRatio - 1e-9));
    return { severity, budgetFraction, long, short, burnRate, errorRatio, minEvents };
  });
}

export const errorRatioRecord = (w: Window) => `aion_slo:error_ratio:rate${w}`;
export const eventRateRecord = (w: Window) => `aion_slo:events:rate${w}`;

interface RecordingRule {
  record: string;
  expr: string;
  labels: Record<string, string>;
}
interface AlertingRule {
  alert: string;
  expr: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
export interface RuleFile {
  groups: { name: string; rules: (RecordingRule | AlertingRule)[] }[];
}

/**
 * Labels that tie every rule and alert to its SLO and tenant (the webhook maps alerts back). A
 * platform SLO (no tenant) has no tenant_id: its alerts are no tenant's.
 */
export const sloLabels = (slo: Slo) => ({
  aion_slo_id: slo.id,
  aion_slo: slo.name,
  ...(slo.tenantId ? { tenant_id: slo.tenantId } : {}),
  service: slo.service,
});

/**
 * Target labels (e.g. `namespace`) that narrow an SLO to one deployment of the platform: added to
 * the metric selectors, to every rule's labels and to the alerts' selectors of the recorded
 * series, so two deployments scraped by one Prometheus never mix nor collide.
 */
export type SloScope = Record<string, string>;

const matchers = (labels: Record<string, string>) =>
  Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
/** `metric{a="x"}` narrowed to `metric{scope...,a="x"}` (resolved selectors always have braces). */
const narrowed = (selector: string, scope: SloScope) =>
  Object.keys(scope).length ? selector.replace('{', `{${matchers(scope).join(',')},`) : selector;

/**
 * The Prometheus rules of an SLO: per window, the error ratio (bad = total - good; a missing good
 * series counts as none good, so an outage with no success at all still reads 100%) and the
 * event rate (for the traffic guard); then one alert per policy row.
 */
export function sloRules(slo: Slo, scope: SloScope = {}): RuleFile {
  const labels = { ...sloLabels(slo), ...scope };
  const id = `{${matchers({ aion_slo_id: slo.id, ...scope }).join(',')}}`;
  const good = narrowed(slo.goodSelector, scope);
  const total = narrowed(slo.totalSelector, scope);
  const recording: RecordingRule[] = RECORDED_WINDOWS.flatMap((w) => [
    {
      record: errorRatioRecord(w),
      expr: `1 - (sum(rate(${good}[${w}])) or vector(0)) / sum(rate(${total}[${w}]))`,
      labels,
    },
    { record: eventRateRecord(w), expr: `sum(rate(${total}[${w}]))`, labels },
  ]);
  const alerting: AlertingRule[] = burnRateAlerts(slo.objective, slo.windowDays).map((a) => ({
    alert: 'AionSloErrorBudgetBurn',
    expr: [
      `${errorRatioRecord(a.long)}${id} > ${a.errorRatio}`,
      `and ${errorRatioRecord(a.short)}${id} > ${a.errorRatio}`,
      `and ${eventRateRecord(a.long)}${id} * ${SECONDS[a.long]} >= ${a.minEvents}`,
    ].join('\n'),
    labels: {
      ...labels,
      severity: a.severity,
      long_window: a.long,
      short_window: a.short,
      burn_rate: String(a.burnRate),
    },
    annotations: {
      summary: `SLO ${slo.name} (${slo.service}) is burning its ${slo.windowDays}-day error budget ${a.burnRate}x too fast over ${a.long} and ${a.short}`,
      // No $value: the burn is in the labels, and a fixed text keeps the alert's identity stable.
      description: `The error ratio over ${a.long} and over ${a.short} exceeds ${a.errorRatio} (objective ${slo.objective}): at this rate ${tidy(a.budgetFraction * 100)}% of the budget goes in ${a.long}.`,
    },
  }));
  return { groups: [{ name: `aion-slo-${slo.id}`, rules: [...recording, ...alerting] }] };
}

/** The rule file as YAML, as `promtool check rules` and Prometheus read it. */
export function sloRuleFile(slo: Slo): string {
  return ruleFileText(sloRules(slo));
}

export function ruleFileText(file: RuleFile): string {
  // No anchors for the labels every rule repeats: a reader sees each rule whole.
  return stringify(file, { lineWidth: 0, aliasDuplicateObjects: false });
}
