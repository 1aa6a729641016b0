import { openPostgres, type Database } from '@aion/db';
import { OutboxWriter } from '@aion/events';
import { BreakerRegistry } from '@aion/resilience';
import { createTestDatabase, type TestDatabase } from '@aion/testing';
import { registerBreakerStateGauge, ServiceMetrics, TaskMetrics } from '@aion/telemetry';
import { PostgresBudgets } from '../../src/adapters/db/budget-repository';
import { outbox } from '../../src/adapters/db/schema';
import { PostgresTaskRepository } from '../../src/adapters/db/task-repository';
import { MeteredExecutor, observeTaskEnds } from '../../src/adapters/telemetry/task-metrics';
import { countsAgainstEngine } from '../../src/core/engine-health';
import { LatencyWindows } from '../../src/core/latency';
import type { ResidencyDecision, ResidencyPolicy } from '../../src/core/residency';
import { TaskService } from '../../src/core/task-service';
import { as, engines, jurisdictions, migrate, ScriptedEngines, summarize } from './support/replica';

// The orchestrator's issue-16 metrics as its composition root wires them, on a real PostgreSQL:
// tasks run end to end and the service's registry is read as Prometheus would scrape it.

let testDb: TestDatabase;
let database: Database;
const metrics = new ServiceMetrics('orchestrator', { defaultMetrics: false });
const failing = new Map<string, Error>();
let tasks: TaskService;

/** DE data may go nowhere for the tenant `sealed`; anywhere for the others. */
const decision = (tenantId: string): ResidencyDecision => ({
  allowed: tenantId === 'sealed' ? ['FR'] : 'any',
  denied: tenantId === 'sealed' ? ['DE'] : [],
  rule: tenantId === 'sealed' ? 'test:fr-only' : 'default:allow',
  reason: 'test',
  models: [],
  approvalRequired: false,
});
const residency: ResidencyPolicy = {
  decide: async (tenantId) => decision(tenantId),
  cached: (tenantId) => decision(tenantId),
};

beforeAll(async () => {
  testDb = await createTestDatabase('taskmetrics');
  await migrate(testDb);
  database = openPostgres({ url: testDb.appUrl, max: 4 });
  const breakers = new BreakerRegistry({ consecutiveFailures: 2, isFailure: countsAgainstEngine });
  const budgets = new PostgresBudgets(database.db);
  const repository = new PostgresTaskRepository(
    database.db,
    new OutboxWriter(outbox, 'aion/orchestrator-test'),
    { remainingBudgets: budgets.remainingCache },
  );
  const taskMetrics = new TaskMetrics(metrics);
  observeTaskEnds(repository, taskMetrics);
  registerBreakerStateGauge(
    metrics,
    () => engines.map((e) => e.name),
    (e) => breakers.state(e),
  );
  tasks = new TaskService({
    repository,
    budgets,
    executor: new MeteredExecutor(new ScriptedEngines(failing), taskMetrics),
    residency,
    jurisdictions,
    engines,
    policies: {},
    latency: new LatencyWindows(),
    breakers,
    taskTimeoutMs: 20_000,
    streamPollMs: 20,
  });
}, 60_000);

afterAll(async () => {
  await database?.close();
  await testDb?.drop();
});

const run = (tenantId: string, id: string) =>
  as(tenantId, async () => {
    const { record } = await tasks.submit(summarize(id));
    return tasks.awaitEnd(record, 15_000, new AbortController().signal);
  });

/**
 * The value of one series in the scrape, or undefined when it is not there; `series` is written
 * as in the exposition format, its labels in any order (prom-client puts `service` where it likes).
 */
async function sample(series: string): Promise<number | undefined> {
  const labelsOf = (text: string) => [...text.matchAll(/(\w+)="([^"]*)"/g)].map((m) => m[0]).sort();
  const [name, labels = ''] = series.replace('}', '').split('{');
  const wanted = labelsOf(labels).join(',');
  for (const line of (await metrics.render()).body.split('\n')) {
    const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m && m[1] === name && labelsOf(m[2] ?? '').join(',') === wanted) return Number(m[3]);
  }
  return undefined;
}

describe('orchestrator task metrics', () => {
  it('count a task that fell back, its engines, tokens and residency, once each', async () => {
    failing.set('flaky-sum', new Error('connection reset'));
    const ended = await run('open', 'tm-fallback');
    expect(ended.status).toBe('OK');
    const svc = 'service="orchestrator"';
    expect(
      await sample(`aion_tasks_total{intent="summarize",engine="steady-sum",status="OK",${svc}}`),
    ).toBe(1);
    expect(
      await sample(`aion_engine_requests_total{engine="flaky-sum",outcome="failed",${svc}}`),
    ).toBe(1);
    expect(
      await sample(`aion_engine_requests_total{engine="steady-sum",outcome="ok",${svc}}`),
    ).toBe(1);
    expect(
      await sample(`aion_llm_tokens_total{direction="output",model="steady-sum",${svc}}`),
    ).toBe(1);
    expect(await sample(`aion_llm_cost_usd_total{model="steady-sum",${svc}}`)).toBe(0);
    expect(await sample(`aion_residency_decisions_total{outcome="allowed",${svc}}`)).toBe(1);
    expect(
      await sample(`aion_task_duration_seconds_count{intent="summarize",status="OK",${svc}}`),
    ).toBe(1);
  });

  it('show a breaker opened by its engine failures', async () => {
    expect(await sample('aion_breaker_state{engine="flaky-sum",service="orchestrator"}')).toBe(0);
    await run('open', 'tm-second');
    expect(await sample('aion_breaker_state{engine="flaky-sum",service="orchestrator"}')).toBe(2);
    expect(await sample('aion_breaker_state{engine="steady-sum",service="orchestrator"}')).toBe(0);
  });

  it('count a task refused on residency as denied, on no engine', async () => {
    const ended = await run('sealed', 'tm-sealed');
    expect(ended.error?.code).toBe('sovereign.residency_violation');
    const svc = 'service="orchestrator"';
    expect(
      await sample(`aion_tasks_total{intent="summarize",engine="none",status="ERROR",${svc}}`),
    ).toBe(1);
    expect(await sample(`aion_residency_decisions_total{outcome="denied",${svc}}`)).toBe(1);
    // No engine was called for it.
    expect(
      await sample(`aion_engine_requests_total{engine="steady-sum",outcome="ok",${svc}}`),
    ).toBe(2);
  });
});
