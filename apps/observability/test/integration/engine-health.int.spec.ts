import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { registerBreakerStateGauge, ServiceMetrics, TaskMetrics } from '@aion/telemetry';
import {
  eventually,
  freePort,
  startPrometheus,
  type RunningPrometheus,
  type TestDatabase,
} from '@aion/testing';

import { migratedDatabase, startObservability } from './running-observability';

// GetEngineHealth on a real Prometheus. What it scrapes is the orchestrator's own emitters
// (TaskMetrics and the breaker gauge of libs/telemetry, as the orchestrator wires them) on a
// registry served over HTTP: engine calls are recorded between scrapes, Prometheus stores them,
// and the service reads p95, error rate and breaker state back.

let db: TestDatabase;
let obs: Awaited<ReturnType<typeof startObservability>>;
let prometheus: RunningPrometheus;
let exposition: Server;
let rulesDir: string;
const orchestrator = new ServiceMetrics('orchestrator', { defaultMetrics: false });
const tasks = new TaskMetrics(orchestrator);
const breakers = new Map<string, 'closed' | 'half_open' | 'open'>([
  ['gpt', 'closed'],
  ['local-sum', 'closed'],
]);
registerBreakerStateGauge(
  orchestrator,
  () => [...breakers.keys()],
  (e) => breakers.get(e) ?? 'closed',
);

/** The sum Prometheus has stored last for a query (undefined before its first scrape). */
async function stored(query: string): Promise<number | undefined> {
  const url = `${prometheus.url}/api/v1/query?query=${encodeURIComponent(query)}`;
  const body = (await (await fetch(url)).json()) as {
    data: { result: { value: [number, string] }[] };
  };
  const [first] = body.data.result;
  return first ? Number(first.value[1]) : undefined;
}

/** Engine calls as the metered executor records them; every series exists from the start. */
function calls(engine: string, ok: number, failed: number, canceled = 0) {
  for (let i = 0; i < ok; i++) tasks.engineCall(engine, 'ok', 0.3);
  for (let i = 0; i < failed; i++) tasks.engineCall(engine, 'failed', 4);
  for (let i = 0; i < canceled; i++) tasks.engineCall(engine, 'canceled', 1);
}

beforeAll(async () => {
  rulesDir = mkdtempSync(path.join(os.tmpdir(), 'aion-health-rules-'));
  for (const engine of ['gpt', 'local-sum']) {
    for (const outcome of ['ok', 'failed', 'canceled'] as const)
      tasks.engineRequests.inc({ engine, outcome }, 0);
    tasks.engineDuration.zero({ engine });
  }
  exposition = createServer((_req, res) => {
    void orchestrator.render().then(({ contentType, body }) => {
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
  db = await migratedDatabase('obshealth');
  obs = await startObservability(db, { AION_OBSERVABILITY_PROMETHEUS_URL: prometheus.url });
  // A first scrape with every counter at 0, then calls between scrapes.
  await eventually(async () => (await stored('sum(aion_engine_requests_total)')) === 0, 20_000);
  calls('gpt', 6, 2, 5);
  calls('local-sum', 4, 0);
  await eventually(async () => (await stored('sum(aion_engine_requests_total)')) === 17, 20_000);
  calls('gpt', 3, 1);
  breakers.set('gpt', 'open');
  await eventually(
    async () =>
      (await stored('sum(aion_engine_requests_total)')) === 21 &&
      (await stored('max(aion_breaker_state{engine="gpt"})')) === 2,
    20_000,
  );
}, 90_000);

afterAll(async () => {
  await obs?.stop();
  await prometheus?.stop();
  await new Promise((r) => exposition?.close(r));
  await db?.drop();
  rmSync(rulesDir, { recursive: true, force: true });
});

describe('GetEngineHealth', () => {
  it("reads each engine's p95, error rate, calls and breaker state from Prometheus", async () => {
    const { engines } = await obs.as('health-tenant', 'observer', (c) =>
      c.getEngineHealth({ windowSeconds: 120 }),
    );
    expect(engines.map((e) => e.engine)).toEqual(['gpt', 'local-sum']);
    const [gpt, local] = engines;
    // 3 of 12 judged calls failed (the canceled ones say nothing about the engine); each series
    // is extrapolated to the window on its own, hence not exactly 0.25.
    expect(gpt!.errorRate).toBeCloseTo(0.25, 2);
    expect(local!.errorRate).toBe(0);
    // Every answered call took 0.3 s: in the (0.25, 0.5] bucket, p95 interpolates to 487.5 ms.
    expect(gpt!.p95Ms).toBeCloseTo(487.5, 3);
    expect(local!.p95Ms).toBeCloseTo(487.5, 3);
    expect(gpt!.breakerState).toBe('open');
    expect(local!.breakerState).toBe('closed');
    // increase() extrapolates to the window's edges: at least what was counted, not double.
    expect(Number(gpt!.sampleCount)).toBeGreaterThanOrEqual(12);
    expect(Number(gpt!.sampleCount)).toBeLessThan(24);
  });

  it('answers for the engines asked, unknown ones with no data', async () => {
    const { engines } = await obs.as('health-tenant', 'observer', (c) =>
      c.getEngineHealth({ engines: ['local-sum', 'nobody'] }),
    );
    expect(engines).toEqual([
      expect.objectContaining({ engine: 'local-sum', breakerState: 'closed', errorRate: 0 }),
      expect.objectContaining({
        engine: 'nobody',
        p95Ms: 0,
        errorRate: 0,
        sampleCount: 0n,
        breakerState: '',
      }),
    ]);
  });

  it('refuses a window out of bounds with 400, and callers without platform:read', async () => {
    await expect(
      obs.as('health-tenant', 'observer', (c) => c.getEngineHealth({ windowSeconds: 10 })),
    ).rejects.toMatchObject({ code: 'validation.invalid_argument' });
    await expect(
      obs.as('health-tenant', 'nobody-role', (c) => c.getEngineHealth({})),
    ).rejects.toMatchObject({ code: 'auth.forbidden' });
  });
});
