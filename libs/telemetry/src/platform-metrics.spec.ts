import { Registry } from 'prom-client';
import {
  EdgeMetrics,
  PLATFORM_METRICS,
  registerBreakerStateGauge,
  registerOutboxLagGauge,
  TASK_LATENCY_BUCKETS,
  TaskMetrics,
} from './platform-metrics';

function registered() {
  const registry = new Registry();
  const metrics = { registry };
  const tasks = new TaskMetrics(metrics);
  const edge = new EdgeMetrics(metrics);
  const states = new Map<string, 'closed' | 'open' | 'half_open'>([['gpt', 'open']]);
  registerBreakerStateGauge(
    metrics,
    () => ['gpt', 'local'],
    (e) => states.get(e) ?? 'closed',
  );
  let age: number | Error | 'hang' = 0;
  registerOutboxLagGauge(
    metrics,
    async () => {
      if (age === 'hang') return new Promise<number>(() => undefined);
      if (age instanceof Error) throw age;
      return age;
    },
    50,
  );
  return { registry, tasks, edge, states, setAge: (a: typeof age) => (age = a) };
}

describe('PLATFORM_METRICS', () => {
  it('names exactly what the emitters register, with kinds, labels and buckets', async () => {
    const { registry } = registered();
    const json = await registry.getMetricsAsJSON();
    expect(json.map((m) => m.name).sort()).toEqual(Object.keys(PLATFORM_METRICS).sort());
    for (const [name, spec] of Object.entries(PLATFORM_METRICS)) {
      expect([name, String(json.find((m) => m.name === name)!.type)]).toEqual([name, spec.kind]);
      // prom-client keeps a metric's label names on the instance (not in its typings).
      const single = registry.getSingleMetric(name) as unknown as { labelNames: string[] };
      expect([name, [...single.labelNames].sort()]).toEqual([name, [...spec.labels].sort()]);
    }
  });

  it('puts the blueprint latency targets on bucket bounds', async () => {
    const { registry, tasks } = registered();
    for (const target of [0.5, 2, 2.3]) expect(TASK_LATENCY_BUCKETS).toContain(target);
    tasks.taskEnded({ intent: 'chat', engine: 'gpt', status: 'OK', seconds: 2.2 });
    const text = await registry.metrics();
    // 2.2 s is over the 2 s target and within 2.3 s.
    expect(text).toContain('aion_task_duration_seconds_bucket{le="2",intent="chat",status="OK"} 0');
    expect(text).toContain(
      'aion_task_duration_seconds_bucket{le="2.3",intent="chat",status="OK"} 1',
    );
    expect(text).toContain('aion_tasks_total{intent="chat",engine="gpt",status="OK"} 1');
  });

  it('counts tokens by direction and cost by model, never a tenant', async () => {
    const { registry, tasks } = registered();
    tasks.llmUsage({ model: 'gpt-4o', inputTokens: 12, outputTokens: 30, costUsd: 0.0021 });
    tasks.llmUsage({ model: '', inputTokens: 0, outputTokens: 0, costUsd: 0 });
    tasks.engineCall('gpt', 'ok', 0.4);
    tasks.engineCall('gpt', 'failed', 3);
    tasks.taskEnded({ intent: 'chat', engine: '', status: 'ERROR', seconds: 0.01 });
    const text = await registry.metrics();
    expect(text).toContain('aion_llm_tokens_total{direction="input",model="gpt-4o"} 12');
    expect(text).toContain('aion_llm_tokens_total{direction="output",model="gpt-4o"} 30');
    expect(text).toContain('aion_llm_cost_usd_total{model="gpt-4o"} 0.0021');
    expect(text).toContain('aion_llm_cost_usd_total{model="unknown"} 0');
    expect(text).toContain('aion_engine_requests_total{engine="gpt",outcome="failed"} 1');
    // Only answered calls are timed: a failure's duration is its timeout, not the engine's speed.
    expect(text).toContain('aion_engine_request_duration_seconds_count{engine="gpt"} 1');
    expect(text).toContain('aion_tasks_total{intent="chat",engine="none",status="ERROR"} 1');
    expect(text).not.toMatch(/tenant/);
  });

  it('starts every finished-task series the engines can produce at 0, so rate() sees a first burst', async () => {
    const { registry, tasks } = registered();
    tasks.primeTasks(
      [
        { name: 'gpt', intents: ['chat', 'summarize'] },
        { name: 'local', intents: ['summarize'] },
      ],
      ['OK', 'ERROR'],
    );
    const text = await registry.metrics();
    const series = text.split('\n').filter((l) => l.startsWith('aion_tasks_total{'));
    expect(series.sort()).toEqual(
      [
        'aion_tasks_total{intent="chat",engine="gpt",status="OK"} 0',
        'aion_tasks_total{intent="chat",engine="gpt",status="ERROR"} 0',
        'aion_tasks_total{intent="summarize",engine="gpt",status="OK"} 0',
        'aion_tasks_total{intent="summarize",engine="gpt",status="ERROR"} 0',
        'aion_tasks_total{intent="summarize",engine="local",status="OK"} 0',
        'aion_tasks_total{intent="summarize",engine="local",status="ERROR"} 0',
        'aion_tasks_total{intent="chat",engine="none",status="OK"} 0',
        'aion_tasks_total{intent="chat",engine="none",status="ERROR"} 0',
        'aion_tasks_total{intent="summarize",engine="none",status="OK"} 0',
        'aion_tasks_total{intent="summarize",engine="none",status="ERROR"} 0',
      ].sort(),
    );
    expect(text).toContain(
      'aion_task_duration_seconds_bucket{le="2.3",intent="chat",status="ERROR"} 0',
    );
    // A task then counts from there.
    tasks.taskEnded({ intent: 'chat', engine: 'gpt', status: 'ERROR', seconds: 1 });
    expect(await registry.metrics()).toContain(
      'aion_tasks_total{intent="chat",engine="gpt",status="ERROR"} 1',
    );
  });

  it('reads breaker states when scraped, closed engines included', async () => {
    const { registry, states } = registered();
    expect(await registry.metrics()).toMatch(/aion_breaker_state\{engine="gpt"\} 2\n/);
    expect(await registry.metrics()).toMatch(/aion_breaker_state\{engine="local"\} 0\n/);
    states.set('gpt', 'half_open');
    expect(await registry.metrics()).toMatch(/aion_breaker_state\{engine="gpt"\} 1\n/);
  });

  it('keeps the last outbox lag when the read fails or hangs, within the timeout', async () => {
    const { registry, setAge } = registered();
    setAge(4.5);
    expect(await registry.metrics()).toMatch(/aion_outbox_lag_seconds 4.5\n/);
    setAge(new Error('database away'));
    expect(await registry.metrics()).toMatch(/aion_outbox_lag_seconds 4.5\n/);
    setAge('hang');
    const started = Date.now();
    expect(await registry.metrics()).toMatch(/aion_outbox_lag_seconds 4.5\n/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('counts edge refusals by reason and scope', async () => {
    const { registry, edge } = registered();
    edge.authFailed('auth.invalid_credentials');
    edge.limited('per-ip');
    const text = await registry.metrics();
    expect(text).toContain('aion_auth_failures_total{reason="invalid_credentials"} 1');
    expect(text).toContain('aion_rate_limited_total{scope="per-ip"} 1');
  });
});
