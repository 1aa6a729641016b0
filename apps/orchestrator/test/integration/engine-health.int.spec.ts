import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { InternalTokens } from '@aion/auth';
import { ObservabilityService } from '@aion/contracts';
import { openPostgres, type Database } from '@aion/db';
import { OutboxWriter } from '@aion/events';
import { createGrpcClient } from '@aion/grpc';
import { BreakerRegistry } from '@aion/resilience';
import { createLogger, ServiceMetrics, TaskMetrics } from '@aion/telemetry';
import {
  createTestDatabase,
  distributedEnv,
  eventually,
  freePort,
  migrateTestDatabase,
  onLoopback,
  startPrometheus,
  startServiceProcess,
  type RunningPrometheus,
  type ServiceProcess,
  type TestDatabase,
} from '@aion/testing';
import { engineHealthWorker } from '../../src/adapters/observability/engine-health-poller';
import { PostgresBudgets } from '../../src/adapters/db/budget-repository';
import { outbox } from '../../src/adapters/db/schema';
import { PostgresTaskRepository } from '../../src/adapters/db/task-repository';
import { ClusterLatency } from '../../src/core/cluster-latency';
import { countsAgainstEngine } from '../../src/core/engine-health';
import { TaskService } from '../../src/core/task-service';
import {
  as,
  engines,
  jurisdictions,
  openResidency,
  ScriptedEngines,
  summarize,
} from './support/replica';

// sla.p95_ms routing on every replica's calls: other replicas' engine calls (their TaskMetrics,
// served for a real Prometheus to scrape) made flaky-sum slow; this replica has never called it.
// The observability service (its own process) reads the p95 back from Prometheus; this replica's
// router takes it through GetEngineHealth and routes a 1 s task to steady-sum. With the
// observability service gone, the reading ages out and the replica routes on its own window.

let db: TestDatabase;
let database: Database;
let prometheus: RunningPrometheus;
let observability: ServiceProcess;
let exposition: Server;
let rulesDir: string;
const secret = randomBytes(24).toString('hex');
const others = new ServiceMetrics('orchestrator', { defaultMetrics: false });
const otherReplicas = new TaskMetrics(others);

beforeAll(async () => {
  rulesDir = mkdtempSync(path.join(os.tmpdir(), 'aion-orc-health-'));
  for (const engine of ['flaky-sum', 'steady-sum']) {
    otherReplicas.engineRequests.inc({ engine, outcome: 'ok' }, 0);
    otherReplicas.engineDuration.zero({ engine });
  }
  exposition = createServer((_req, res) => {
    void others.render().then(({ contentType, body }) => {
      res.setHeader('content-type', contentType);
      res.end(body);
    });
  });
  const [metricsPort, promPort, unusedAlertmanager] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
  ]);
  await new Promise<void>((resolve) => exposition.listen(metricsPort, '127.0.0.1', resolve));
  prometheus = await startPrometheus({
    port: promPort,
    rulesDir,
    targets: [`127.0.0.1:${metricsPort}`],
    alertmanager: `127.0.0.1:${unusedAlertmanager}`,
  });
  db = await createTestDatabase('orchealth');
  migrateTestDatabase(db, ['orchestrator', 'observability']);
  database = openPostgres({ url: db.appUrl, max: 4 });
  observability = await startServiceProcess('observability', {
    ...distributedEnv(db, secret),
    ...onLoopback('AION_OBSERVABILITY_'),
    AION_OBSERVABILITY_PROMETHEUS_URL: prometheus.url,
    AION_OBSERVABILITY_ALERTMANAGER_URL: `http://127.0.0.1:${unusedAlertmanager}`,
    AION_OBSERVABILITY_LOKI_URL: `http://127.0.0.1:${unusedAlertmanager}`,
  });
  // After a first scrape at zero: flaky-sum answered in 3 s, steady-sum in 0.1 s, 20 calls each.
  await eventually(async () => (await stored('count(aion_engine_requests_total)')) === 2, 20_000);
  for (let i = 0; i < 20; i++) {
    otherReplicas.engineCall('flaky-sum', 'ok', 3);
    otherReplicas.engineCall('steady-sum', 'ok', 0.1);
  }
  await eventually(async () => (await stored('sum(aion_engine_requests_total)')) === 40, 20_000);
}, 120_000);

afterAll(async () => {
  observability?.kill();
  await observability?.exited;
  await prometheus?.stop();
  await new Promise((r) => exposition?.close(r));
  await database?.close();
  await db?.drop();
  rmSync(rulesDir, { recursive: true, force: true });
});

/** The value Prometheus has stored last for a query (undefined before its first scrape). */
async function stored(query: string): Promise<number | undefined> {
  const url = `${prometheus.url}/api/v1/query?query=${encodeURIComponent(query)}`;
  const body = (await (await fetch(url)).json()) as {
    data: { result: { value: [number, string] }[] };
  };
  const [first] = body.data.result;
  return first ? Number(first.value[1]) : undefined;
}

function replica(latency: ClusterLatency) {
  const budgets = new PostgresBudgets(database.db);
  const executor = new ScriptedEngines();
  const tasks = new TaskService({
    repository: new PostgresTaskRepository(
      database.db,
      new OutboxWriter(outbox, 'aion/orchestrator-test'),
      { remainingBudgets: budgets.remainingCache },
    ),
    budgets,
    executor,
    residency: openResidency,
    jurisdictions,
    engines,
    policies: {},
    latency,
    breakers: new BreakerRegistry({ consecutiveFailures: 5, isFailure: countsAgainstEngine }),
    taskTimeoutMs: 20_000,
    streamPollMs: 20,
  });
  return { tasks, executor };
}

/** A summarize task that must answer within 1 s at p95. */
const within1s = (id: string) => {
  const request = summarize(id);
  return { ...request, sla: { ...request.sla, p95_ms: 1_000 } };
};

describe('engine health for the router', () => {
  it('routes a p95-bound task away from an engine other replicas measured slow', async () => {
    const client = createGrpcClient(ObservabilityService, `127.0.0.1:${observability.grpcPort}`, {
      tokens: new InternalTokens(secret, 'orchestrator'),
    });
    const latency = new ClusterLatency(1_500, { minSamples: 5 });
    const worker = engineHealthWorker({
      client,
      latency,
      intervalMs: 60_000,
      platformTenant: 'default',
      logger: createLogger({ service: 'orchestrator', level: 'error' }),
    });
    try {
      // This replica alone would pick flaky-sum (the cheaper by name): it knows no latency.
      expect(latency.p95('flaky-sum')).toBeUndefined();
      await worker.refresh();
      // 3 s lies in the (2.3, 5] bucket: Prometheus interpolates 2.3 + 2.7 × 0.95 = 4.865 s;
      // 0.1 s in the first, (0, 0.1]: 0.095 s.
      expect(latency.p95('flaky-sum')).toBeCloseTo(4_865, 0);
      expect(latency.p95('steady-sum')).toBeCloseTo(95, 0);
      const { tasks, executor } = replica(latency);
      const ended = await as('health-tenant', async () => {
        const { record } = await tasks.submit(within1s('eh-1'));
        return tasks.awaitEnd(record, 15_000, new AbortController().signal);
      });
      expect(ended).toMatchObject({ status: 'OK', engine: { name: 'steady-sum' } });
      expect(executor.calls).toEqual(['steady-sum']);

      // The observability service goes away: reads fail quietly, the reading ages out.
      observability.kill();
      await observability.exited;
      await expect(worker.refresh()).resolves.toBeUndefined();
      await new Promise((r) => setTimeout(r, 1_600));
      expect(latency.p95('flaky-sum')).toBeUndefined();
    } finally {
      await worker.stop();
      client.close();
    }
  });
});
