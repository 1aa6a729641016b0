import type { JsonObject } from '@bufbuild/protobuf';
import * as z from 'zod/v4';
import { timestampDate, type Timestamp as WireTimestamp } from '@bufbuild/protobuf/wkt';
import { SERVICE_PREFIXES } from '@aion/config';
import { AlertSeverity, SliKind, type ObservabilityService } from '@aion/contracts';
import type { ClientOf } from '@aion/grpc';
import { SLI_METRICS } from '@aion/telemetry';
import { Timestamp, Uuid } from '../../wire-schemas';

// The observability service's messages as /api/v1/observability spells them, and back: every
// schema states exactly what the service accepts, so what the OpenAPI document allows is accepted.
export type ObservabilityClient = ClientOf<typeof ObservabilityService>;
type SloMessage = NonNullable<Awaited<ReturnType<ObservabilityClient['getSlo']>>['slo']>;
type RuleMessage = NonNullable<Awaited<ReturnType<ObservabilityClient['getAlertRule']>>['rule']>;

export const BASE = '/api/v1/observability';
const SERVICES = Object.keys(SERVICE_PREFIXES) as [string, ...string[]];
const METRICS = Object.entries(SLI_METRICS);
/** A latency SLI's threshold is a bucket bound of its histogram (whole milliseconds). */
const thresholdsMs = (buckets: readonly number[]) =>
  [...new Set(buckets.map((s) => Math.round(s * 1_000_000) / 1000).filter(Number.isInteger))].sort(
    (a, b) => a - b,
  );
const thresholdOf = (buckets: readonly number[]) =>
  z
    .union(thresholdsMs(buckets).map((ms) => z.literal(ms)) as unknown as [z.ZodLiteral<number>])
    .describe('An event is good when it took at most this long (a bucket bound of the histogram)');
/** Without a metric: the service's own request histogram (every one has the same bounds). */
const ThresholdMs = thresholdOf(SLI_METRICS.aion_grpc_server_handling_seconds.buckets);
const CountedSli = z.enum(['availability', 'error_rate']);
/** No control characters: a rule file (YAML) cannot carry all of them. */
const NO_CONTROL = '^[^\\u0000-\\u001f\\u007f-\\u009f]*$';
const LabelValue = z.string().max(200).regex(new RegExp(NO_CONTROL));

const ofKind = (kind: 'counter' | 'histogram') =>
  METRICS.filter(([, m]) => m.kind === kind).map(([name]) => name);
const metricError = (kind: 'counter' | 'histogram') => ({
  error: () => `not a ${kind} Aion emits: one of ${ofKind(kind).join(', ')}`,
});

/**
 * The SLI as the observability service accepts it, stated exactly: with `metric`, matchers on
 * that metric's labels (not the one the SLI decides by); without, the service's own request
 * counter (the gateway's REST requests, any other's gRPC calls) or latency histogram. Branches
 * naming a metric come first: an unknown metric is reported as such, not as a stray key.
 */
const Sli = z.union([
  ...METRICS.map(([name, m]) => {
    const outcome = 'outcome' in m ? m.outcome.label : 'le';
    const matchers = z
      .strictObject(
        Object.fromEntries(
          m.labels.filter((l) => l !== outcome).map((l) => [l, LabelValue.optional()]),
        ),
      )
      .optional()
      .describe('Equality matchers narrowing the metric');
    return m.kind === 'counter'
      ? z.strictObject({
          type: CountedSli,
          metric: z.literal(name, metricError('counter')),
          matchers,
        })
      : z.strictObject({
          type: z.literal('latency'),
          threshold_ms: thresholdOf('buckets' in m ? m.buckets : []),
          metric: z.literal(name, metricError('histogram')),
          matchers,
        });
  }),
  z.strictObject({ type: CountedSli }),
  z.strictObject({ type: z.literal('latency'), threshold_ms: ThresholdMs }),
]);

export const SloRequest = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$/),
  service: z.enum(SERVICES).describe('The Aion service whose metrics the SLI counts'),
  sli: Sli,
  objective: z.number().gt(0).lt(1).describe('Target ratio of good events, e.g. 0.995'),
  window_days: z
    .int()
    .min(7)
    .max(90)
    .default(30)
    .describe('Rolling window; the ticket alert looks back 3 days, which must fit in it twice'),
  description: z.string().max(1000).default(''),
});

export const Slo = z.object({
  id: Uuid,
  name: z.string(),
  service: z.string(),
  sli: z.object({
    type: z.enum(['availability', 'latency', 'error_rate']),
    metric: z.string(),
    threshold_ms: z.int().optional(),
    matchers: z.record(z.string(), z.string()),
    good: z.string().describe('PromQL selector of good events'),
    total: z.string().describe('PromQL selector of all events'),
  }),
  objective: z.number(),
  window_days: z.int(),
  description: z.string(),
  created_at: Timestamp.nullable(),
  updated_at: Timestamp.nullable(),
});

const LabelName = /^(?!__)[a-zA-Z_][a-zA-Z0-9_]{0,99}$/;
/** Labels Aion sets on every custom rule's alerts itself. */
const FreeLabelName = /^(?!__|aion_|tenant_id$|severity$|alertname$)[a-zA-Z_][a-zA-Z0-9_]{0,99}$/;
/** A custom rule's values are plain text: no control characters, no {{ (Prometheus templates). */
const RULE_LABEL_TEXT = '^(?![\\s\\S]*\\{\\{)[^\\u0000-\\u001f\\u007f-\\u009f]*$';
const RuleLabelValue = z.string().max(1000).regex(new RegExp(RULE_LABEL_TEXT));
/** Annotations may hold tabs and line breaks. */
const ANNOTATION_TEXT = '^(?![\\s\\S]*\\{\\{)[^\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f]*$';
const AnnotationValue = z.string().max(1000).regex(new RegExp(ANNOTATION_TEXT));

/**
 * A custom alert rule. The expression is PromQL, checked by the service with Prometheus's
 * grammar (format `promql`: the contract run draws valid expressions for it).
 */
export const AlertRuleRequest = z.strictObject({
  name: z
    .string()
    .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,199}$/)
    .describe('A Prometheus alert name'),
  expression: z
    .string()
    .min(1)
    .max(10_000)
    .meta({ openapi: { type: 'string', format: 'promql', minLength: 1, maxLength: 10_000 } })
    .describe('PromQL; the alert fires for every series it returns'),
  for: z
    .string()
    .regex(/^(\d{1,4}y)?(\d{1,4}w)?(\d{1,4}d)?(\d{1,4}h)?(\d{1,4}m)?(\d{1,4}s)?(\d{1,4}ms)?$/)
    .default('')
    .describe("How long the condition must hold before the alert fires, e.g. 5m; '' for at once"),
  severity: z.enum(['info', 'warning', 'critical']),
  labels: z
    .record(z.string().regex(FreeLabelName), RuleLabelValue)
    .refine((m) => Object.keys(m).length <= 20, 'at most 20')
    .meta({
      openapi: {
        type: 'object',
        maxProperties: 20,
        propertyNames: { pattern: FreeLabelName.source },
        additionalProperties: { type: 'string', maxLength: 1000, pattern: RULE_LABEL_TEXT },
      },
    })
    .default({})
    .describe('Extra alert labels (tenant_id, severity and the rule id are set by Aion)'),
  annotations: z
    .record(z.string().regex(LabelName), AnnotationValue)
    .refine((m) => Object.keys(m).length <= 20, 'at most 20')
    .meta({
      openapi: {
        type: 'object',
        maxProperties: 20,
        propertyNames: { pattern: LabelName.source },
        additionalProperties: { type: 'string', maxLength: 1000, pattern: ANNOTATION_TEXT },
      },
    })
    .default({})
    .describe('summary, description, runbook_url ...'),
});

export const AlertRule = z.object({
  id: Uuid,
  name: z.string(),
  expression: z.string(),
  for: z.string(),
  severity: z.enum(['info', 'warning', 'critical']),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()),
  sync_status: z
    .enum(['pending', 'synced', 'failed'])
    .describe('pending until Prometheus loads the rule'),
  sync_error: z.string().nullable(),
  created_at: Timestamp.nullable(),
  updated_at: Timestamp.nullable(),
});

const SEVERITIES = {
  info: AlertSeverity.INFO,
  warning: AlertSeverity.WARNING,
  critical: AlertSeverity.CRITICAL,
};
export const ruleMessage = (b: z.output<typeof AlertRuleRequest>, id = '') => ({
  id,
  name: b.name,
  expression: b.expression,
  forDuration: b.for,
  severity: SEVERITIES[b.severity],
  labels: b.labels,
  annotations: b.annotations,
});
export const ruleJson = (r: RuleMessage | undefined): z.input<typeof AlertRule> => ({
  id: r?.id ?? '',
  name: r?.name ?? '',
  expression: r?.expression ?? '',
  for: r?.forDuration ?? '',
  severity: (Object.entries(SEVERITIES).find(([, n]) => n === r?.severity)?.[0] ??
    'warning') as keyof typeof SEVERITIES,
  labels: r?.labels ?? {},
  annotations: r?.annotations ?? {},
  sync_status: (r?.syncStatus || 'pending') as 'pending' | 'synced' | 'failed',
  sync_error: r?.syncError || null,
  created_at: iso(r?.createdAt),
  updated_at: iso(r?.updatedAt),
});

/** A Prometheus rule file, as the YAML reads. */
export const RuleFile = z.object({
  groups: z.array(
    z.object({ name: z.string(), rules: z.array(z.record(z.string(), z.unknown())) }),
  ),
});

/** JSON has no NaN or infinity: a value Prometheus could not give is null. */
export const Finite = z.number().nullable();
export const finite = (n: number) => (Number.isFinite(n) ? n : null);

/** One burn-rate alert's two windows: burn rates as multiples of the sustainable error rate. */
export const BurnRateWindow = z.object({
  long_window: z.string(),
  short_window: z.string(),
  long_burn_rate: Finite,
  short_burn_rate: Finite,
  threshold: z.number(),
  firing: z.boolean(),
});
export const burnRateWindowJson = (w: {
  longWindow: string;
  shortWindow: string;
  longBurnRate: number;
  shortBurnRate: number;
  threshold: number;
  firing: boolean;
}): z.input<typeof BurnRateWindow> => ({
  long_window: w.longWindow,
  short_window: w.shortWindow,
  long_burn_rate: finite(w.longBurnRate),
  short_burn_rate: finite(w.shortBurnRate),
  threshold: w.threshold,
  firing: w.firing,
});

/**
 * A PromQL query, instant (at `time`, default now) or over a range ending at `end` (default now):
 * bounded so that every range this schema allows is one Prometheus answers (at most 5760 points).
 */
/**
 * RFC 3339 as JSON Schema's date-time reads it (seconds required, offsets within ±23:59, no leap
 * second, which Date cannot hold), and a day the month has.
 */
const Instant = Timestamp.regex(
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|z|[+-]([01]\d|2[0-3]):[0-5]\d)$/,
  'RFC 3339 with seconds',
).refine((s) => !Number.isNaN(Date.parse(s)), 'not a date');

export const MetricsQueryRequest = z.strictObject({
  query: z
    .string()
    .min(1)
    .max(10_000)
    .meta({ openapi: { type: 'string', format: 'promql', minLength: 1, maxLength: 10_000 } })
    .describe("PromQL; every selector is limited to the caller's tenant"),
  time: Instant.optional().describe('Instant queries: when (default now)'),
  range: z
    .strictObject({
      end: Instant.optional().describe('Default now'),
      duration_seconds: z.int().min(60).max(86_400),
      step_seconds: z.int().min(15).max(3600),
    })
    .optional()
    .describe('A range query instead of an instant one'),
});

/** A LogQL query over the `since_seconds` before `end` (default now). */
export const LogsQueryRequest = z.strictObject({
  query: z
    .string()
    .min(1)
    .max(5000)
    .meta({ openapi: { type: 'string', format: 'logql', minLength: 1, maxLength: 5000 } })
    .describe('LogQL, e.g. {service="gateway"} |= "timeout"'),
  end: Instant.optional().describe('Default now'),
  since_seconds: z.int().min(1).max(2_592_000).default(3600),
  limit: z.int().min(1).max(5000).default(100),
});

const SLI_TYPES = {
  availability: SliKind.AVAILABILITY,
  latency: SliKind.LATENCY,
  error_rate: SliKind.ERROR_RATE,
};
export const iso = (t: WireTimestamp | undefined) => (t ? timestampDate(t).toISOString() : null);

export const sloMessage = (b: z.output<typeof SloRequest>, id = '') => ({
  id,
  name: b.name,
  service: b.service,
  sli: SLI_TYPES[b.sli.type],
  metric: 'metric' in b.sli ? b.sli.metric : '',
  matchers: Object.fromEntries(
    Object.entries(('matchers' in b.sli ? b.sli.matchers : undefined) ?? {}).filter(
      (e): e is [string, string] => e[1] !== undefined,
    ),
  ),
  latencyThresholdMs: 'threshold_ms' in b.sli ? b.sli.threshold_ms : 0,
  objective: b.objective,
  windowDays: b.window_days,
  description: b.description,
});

export const sloJson = (s: SloMessage | undefined): z.input<typeof Slo> => {
  const type = (Object.entries(SLI_TYPES).find(([, n]) => n === s?.sli)?.[0] ??
    'availability') as keyof typeof SLI_TYPES;
  return {
    id: s?.id ?? '',
    name: s?.name ?? '',
    service: s?.service ?? '',
    sli: {
      type,
      metric: s?.metric ?? '',
      ...(type === 'latency' ? { threshold_ms: s?.latencyThresholdMs ?? 0 } : {}),
      matchers: s?.matchers ?? {},
      good: s?.goodSelector ?? '',
      total: s?.totalSelector ?? '',
    },
    objective: s?.objective ?? 0,
    window_days: s?.windowDays ?? 0,
    description: s?.description ?? '',
    created_at: iso(s?.createdAt),
    updated_at: iso(s?.updatedAt),
  };
};

type DashboardMessage = NonNullable<
  Awaited<ReturnType<ObservabilityClient['getDashboard']>>['dashboard']
>;
export const Dashboard = z.object({
  id: z.string(),
  title: z.string(),
  model: z.record(z.string(), z.unknown()).describe("Grafana's dashboard JSON model"),
});
const PromQL = z
  .string()
  .min(1)
  .max(10_000)
  .meta({ openapi: { type: 'string', format: 'promql', minLength: 1, maxLength: 10_000 } });
/** A query of a panel: a Prometheus one has `expr` (PromQL); others are passed on as they are. */
const PanelQuery = z.looseObject({ expr: PromQL.optional() });
const Panel = z.looseObject({ targets: z.array(PanelQuery).optional() });

/**
 * A tenant's dashboard: a title and a Grafana JSON model whose panels (and a row's panels) are
 * objects with queries whose PromQL the service checks (format `promql`); the rest of the model
 * is Grafana's. The model's uid and title are set from the dashboard's.
 */
export const DashboardRequest = z.strictObject({
  // Not blank, and no U+0000 (the document's pattern must say so: it replaces the default).
  title: z
    .string()
    .min(1)
    .max(200)
    // eslint-disable-next-line no-control-regex
    .regex(/^[^\u0000]*[^\s\u0000][^\u0000]*$/, 'must not be blank'),
  model: z
    .looseObject({
      panels: z
        .array(Panel.extend({ panels: z.array(Panel).max(200).optional() }))
        .max(200)
        .optional(),
    })
    .describe("Grafana's dashboard JSON model"),
});
export const dashboardMessage = (b: z.output<typeof DashboardRequest>, id = '') => ({
  id,
  title: b.title,
  model: b.model as JsonObject,
});
export const dashboardJson = (d: DashboardMessage | undefined): z.input<typeof Dashboard> => ({
  id: d?.id ?? '',
  title: d?.title ?? '',
  model: (d?.model ?? {}) as Record<string, unknown>,
});
