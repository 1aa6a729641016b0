import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { EMITTED_METRICS, type EmittedMetric } from './catalog';
import type { ServiceMetrics } from './metrics';

/**
 * Seconds. Task and engine-call latency, with bounds at the blueprint's targets (0.5 s, 2 s,
 * 2.3 s) so that a latency SLO at one of them reads a real `le` bucket, not an interpolation.
 */
export const TASK_LATENCY_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 2.3, 5, 10, 30, 60];

/**
 * The platform's domain metrics (issue 16), beside the request metrics of EMITTED_METRICS: what
 * they count, who emits them. No tenant id among the labels: per-tenant cost and usage come from
 * the usage ledger, and a tenant label would multiply every series by the tenants. The
 * dashboards may name these; platform-metrics.spec.ts checks the list against the registrations.
 */
export interface PlatformMetric {
  kind: 'counter' | 'histogram' | 'gauge';
  labels: readonly string[];
  buckets?: readonly number[];
  /** The services that emit it. */
  emittedBy: readonly string[];
}

export const PLATFORM_METRICS = {
  aion_tasks_total: {
    kind: 'counter',
    labels: ['intent', 'engine', 'status'],
    emittedBy: ['orchestrator'],
  },
  aion_task_duration_seconds: {
    kind: 'histogram',
    labels: ['intent', 'status'],
    buckets: TASK_LATENCY_BUCKETS,
    emittedBy: ['orchestrator'],
  },
  aion_engine_requests_total: {
    kind: 'counter',
    labels: ['engine', 'outcome'],
    emittedBy: ['orchestrator'],
  },
  aion_engine_request_duration_seconds: {
    kind: 'histogram',
    labels: ['engine'],
    buckets: TASK_LATENCY_BUCKETS,
    emittedBy: ['orchestrator'],
  },
  aion_llm_tokens_total: {
    kind: 'counter',
    labels: ['direction', 'model'],
    emittedBy: ['orchestrator'],
  },
  aion_llm_cost_usd_total: { kind: 'counter', labels: ['model'], emittedBy: ['orchestrator'] },
  aion_breaker_state: { kind: 'gauge', labels: ['engine'], emittedBy: ['orchestrator'] },
  aion_residency_decisions_total: {
    kind: 'counter',
    labels: ['outcome'],
    emittedBy: ['orchestrator'],
  },
  aion_auth_failures_total: { kind: 'counter', labels: ['reason'], emittedBy: ['gateway'] },
  aion_rate_limited_total: { kind: 'counter', labels: ['scope'], emittedBy: ['gateway'] },
  aion_outbox_lag_seconds: {
    kind: 'gauge',
    labels: [],
    emittedBy: ['every service with an outbox'],
  },
} as const satisfies Record<string, PlatformMetric>;

export type PlatformMetricName = keyof typeof PLATFORM_METRICS;

/**
 * What an SLO may measure: the request metrics every service emits, and the orchestrator's
 * finished tasks (a fault: ERROR or TIMEOUT; a success: OK) and their duration, whose bucket
 * bounds put the blueprint's 0.5 s, 2 s and 2.3 s targets on real `le` buckets.
 */
export const SLI_METRICS = {
  ...EMITTED_METRICS,
  aion_tasks_total: {
    kind: 'counter',
    labels: PLATFORM_METRICS.aion_tasks_total.labels,
    outcome: { label: 'status', faultMatcher: '=~"ERROR|TIMEOUT"', successMatcher: '="OK"' },
  },
  aion_task_duration_seconds: {
    kind: 'histogram',
    labels: PLATFORM_METRICS.aion_task_duration_seconds.labels,
    buckets: TASK_LATENCY_BUCKETS,
  },
} as const satisfies Record<string, EmittedMetric>;

/** How `aion_breaker_state` reads: 0 closed, 1 half open (a trial call runs), 2 open. */
export const BREAKER_STATE_VALUES = { closed: 0, half_open: 1, open: 2 } as const;

/** How an engine call ended, for `aion_engine_requests_total{outcome}`. */
export type EngineCallOutcome =
  /** Answered. */
  | 'ok'
  /** Failed in a way that says the engine is unhealthy (counts toward its breaker). */
  | 'failed'
  /** Refused for the caller's reasons (bad input, limits): says nothing about the engine. */
  | 'refused'
  /** The task was canceled or timed out while the engine worked. */
  | 'canceled';

const counter = <L extends string>(registry: Registry, name: PlatformMetricName, help: string) =>
  new Counter<L>({
    name,
    help,
    labelNames: PLATFORM_METRICS[name].labels as unknown as L[],
    registers: [registry],
  });

const histogram = <L extends string>(registry: Registry, name: PlatformMetricName, help: string) =>
  new Histogram<L>({
    name,
    help,
    labelNames: PLATFORM_METRICS[name].labels as unknown as L[],
    buckets: TASK_LATENCY_BUCKETS,
    registers: [registry],
  });

/** The orchestrator's task, engine, LLM and residency metrics. */
export class TaskMetrics {
  readonly tasks: Counter<'intent' | 'engine' | 'status'>;
  readonly taskDuration: Histogram<'intent' | 'status'>;
  readonly engineRequests: Counter<'engine' | 'outcome'>;
  readonly engineDuration: Histogram<'engine'>;
  readonly tokens: Counter<'direction' | 'model'>;
  readonly cost: Counter<'model'>;
  readonly residency: Counter<'outcome'>;

  constructor(metrics: Pick<ServiceMetrics, 'registry'>) {
    const r = metrics.registry;
    this.tasks = counter(r, 'aion_tasks_total', 'Finished tasks by intent, engine and status');
    this.taskDuration = histogram(
      r,
      'aion_task_duration_seconds',
      'Task duration from acceptance to its end',
    );
    this.engineRequests = counter(r, 'aion_engine_requests_total', 'Engine calls by outcome');
    this.engineDuration = histogram(
      r,
      'aion_engine_request_duration_seconds',
      'Duration of engine calls that answered',
    );
    this.tokens = counter(r, 'aion_llm_tokens_total', 'Tokens engines consumed and produced');
    this.cost = counter(r, 'aion_llm_cost_usd_total', 'What engine calls cost, in USD');
    this.residency = counter(
      r,
      'aion_residency_decisions_total',
      'Tasks by residency outcome (allowed: placed in a permitted jurisdiction; denied: refused)',
    );
  }

  /**
   * Starts at 0 every finished-task series the configured engines can produce: each engine with
   * each of its intents, and `none` (no engine took the task) with every intent, by final status.
   * rate() finds no increase in a series' first sample, so a series born in a burst (an engine's
   * first failures after a start) would hide that burst from every burn-rate rule.
   */
  primeTasks(
    engines: readonly { name: string; intents: readonly string[] }[],
    statuses: Iterable<string>,
  ): void {
    const finals = [...statuses];
    const intents = new Set(engines.flatMap((e) => e.intents));
    const pairs = [
      ...engines.flatMap((e) => e.intents.map((intent) => ({ intent, engine: e.name }))),
      ...[...intents].map((intent) => ({ intent, engine: 'none' })),
    ];
    for (const pair of pairs) for (const status of finals) this.tasks.inc({ ...pair, status }, 0);
    for (const intent of intents)
      for (const status of finals) this.taskDuration.zero({ intent, status });
  }

  taskEnded(t: { intent: string; engine: string; status: string; seconds: number }): void {
    this.tasks.inc({ intent: t.intent, engine: t.engine || 'none', status: t.status });
    this.taskDuration.observe({ intent: t.intent, status: t.status }, Math.max(0, t.seconds));
  }

  engineCall(engine: string, outcome: EngineCallOutcome, seconds: number): void {
    this.engineRequests.inc({ engine, outcome });
    if (outcome === 'ok') this.engineDuration.observe({ engine }, seconds);
  }

  llmUsage(u: { model: string; inputTokens: number; outputTokens: number; costUsd: number }): void {
    const model = u.model || 'unknown';
    if (u.inputTokens > 0) this.tokens.inc({ direction: 'input', model }, u.inputTokens);
    if (u.outputTokens > 0) this.tokens.inc({ direction: 'output', model }, u.outputTokens);
    // Zero is still counted: a free engine's model shows on the cost panels at 0.
    this.cost.inc({ model }, Math.max(0, u.costUsd));
  }

  residencyDecided(outcome: 'allowed' | 'denied'): void {
    this.residency.inc({ outcome });
  }
}

/**
 * `aion_breaker_state{engine}`, read from the breakers when scraped (each replica's view, which
 * the shared breaker table keeps in step): every configured engine has a series, closed ones too.
 */
export function registerBreakerStateGauge(
  metrics: Pick<ServiceMetrics, 'registry'>,
  engines: () => readonly string[],
  stateOf: (engine: string) => keyof typeof BREAKER_STATE_VALUES,
): Gauge<'engine'> {
  return new Gauge({
    name: 'aion_breaker_state',
    help: 'Circuit breaker state per engine: 0 closed, 1 half open, 2 open',
    labelNames: ['engine'],
    registers: [metrics.registry],
    collect() {
      for (const engine of engines()) this.set({ engine }, BREAKER_STATE_VALUES[stateOf(engine)]);
    },
  });
}

/** The gateway's refusals at the edge. */
export class EdgeMetrics {
  readonly authFailures: Counter<'reason'>;
  readonly rateLimited: Counter<'scope'>;

  constructor(metrics: Pick<ServiceMetrics, 'registry'>) {
    this.authFailures = counter(
      metrics.registry,
      'aion_auth_failures_total',
      'Requests refused for their credentials, by reason (the error code)',
    );
    this.rateLimited = counter(
      metrics.registry,
      'aion_rate_limited_total',
      'Requests refused by a rate limit, by scope (per-ip, per-key, instance)',
    );
  }

  /** `code`: the AionError code (auth.invalid_credentials -> reason invalid_credentials). */
  authFailed(code: string): void {
    this.authFailures.inc({ reason: code.replace(/^auth\./, '') });
  }

  limited(scope: string): void {
    this.rateLimited.inc({ scope });
  }
}

/**
 * `aion_outbox_lag_seconds`: age of the oldest event still in the service's outbox (0 when it is
 * empty), read when scraped. A read that fails or outlasts `timeoutMs` leaves the last value: a
 * scrape must not hang on a database that is away.
 */
export function registerOutboxLagGauge(
  metrics: Pick<ServiceMetrics, 'registry'>,
  oldestAgeSeconds: () => Promise<number | undefined>,
  timeoutMs = 2_000,
): Gauge {
  return new Gauge({
    name: 'aion_outbox_lag_seconds',
    help: 'Age of the oldest unpublished event in the outbox (0: empty)',
    registers: [metrics.registry],
    async collect() {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), timeoutMs);
        timer.unref();
      });
      try {
        const age = await Promise.race([oldestAgeSeconds(), late]);
        if (age !== undefined) this.set(Math.max(0, age));
      } catch {
        // The database is away: the dependency gauges say so; keep the last value.
      } finally {
        clearTimeout(timer);
      }
    },
  });
}
