import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { SliKind } from '@aion/contracts';
import { openPostgres, type Database } from '@aion/db';
import {
  eventually,
  freePort,
  uniqueName,
  startPrometheus,
  type RunningPrometheus,
  type TestDatabase,
} from '@aion/testing';
import { PrometheusClient } from '../../src/adapters/prometheus/prometheus-client';
import { PostgresSloEvaluations } from '../../src/adapters/db/slo-evaluation-repository';
import { SloEvaluator } from '../../src/core/slo-evaluations';

import { migratedDatabase, startObservability } from './running-observability';

// SLO evaluations on real components: the service writes an SLO's rule file, a real Prometheus
// records its error ratios from scraped traffic (a small exposition server standing in for a
// gateway that fails half its requests), and the service's evaluator snapshots them every
// second into obs_slo_evaluations (RLS), read back over gRPC.

const tenant = uniqueName('eval');
const other = uniqueName('eval-other');
let db: TestDatabase;
let database: Database;
let obs: Awaited<ReturnType<typeof startObservability>>;
let prometheus: RunningPrometheus;
let exposition: Server;
let rulesDir: string;

beforeAll(async () => {
  rulesDir = mkdtempSync(path.join(os.tmpdir(), 'aion-eval-rules-'));
  const started = Date.now();
  exposition = createServer((_req, res) => {
    const n = Math.floor((Date.now() - started) / 100);
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(
      [
        '# TYPE aion_http_requests_total counter',
        `aion_http_requests_total{service="gateway",method="GET",route="/v1/tasks",status="200"} ${n}`,
        `aion_http_requests_total{service="gateway",method="GET",route="/v1/tasks",status="503"} ${n}`,
        '',
      ].join('\n'),
    );
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
  db = await migratedDatabase('obseval');
  database = openPostgres({ url: db.appUrl, max: 2 });
  obs = await startObservability(db, {
    AION_OBSERVABILITY_RULES_DIR: rulesDir,
    AION_OBSERVABILITY_PROMETHEUS_URL: prometheus.url,
    AION_OBSERVABILITY_SLO_EVALUATION_INTERVAL_MS: '1000',
  });
}, 90_000);

afterAll(async () => {
  await obs?.stop();
  await prometheus?.stop();
  await new Promise((r) => exposition?.close(r));
  await database?.close();
  await db?.drop();
  rmSync(rulesDir, { recursive: true, force: true });
});

const createSlo = (tenantId: string, name: string) =>
  obs
    .as(tenantId, 'admin', (c) =>
      c.createSlo({
        slo: {
          name,
          service: 'gateway',
          sli: SliKind.AVAILABILITY,
          objective: 0.99,
          windowDays: 30,
        },
      }),
    )
    .then((r) => r.slo!.id);

describe('SLO evaluations', () => {
  it("snapshot each SLO's burn rates periodically, readable by its tenant only", async () => {
    const sloId = await createSlo(tenant, 'gateway-availability');
    const otherSlo = await createSlo(other, 'gateway-availability');
    // Half the requests fail: once Prometheus has recorded the 5m ratio, a snapshot holds it.
    const evaluations = await eventually(
      async () => {
        const r = await obs.as(tenant, 'observer', (c) => c.listSloEvaluations({ sloId }));
        return r.evaluations.some((e) => e.errorRatios['5m'] !== undefined) ? r : undefined;
      },
      30_000,
      250,
    );
    const latest = evaluations.evaluations.find((e) => e.errorRatios['5m'] !== undefined)!;
    expect(latest.sloId).toBe(sloId);
    expect(latest.errorRatios['5m']).toBeCloseTo(0.5, 1);
    // The fast page's pair: 1h over 5m at 14.4 times the budget; 0.5 / 0.01 = 50.
    const fast = latest.windows.find((w) => w.longWindow === '1h')!;
    expect(fast).toMatchObject({ shortWindow: '5m', threshold: 14.4 });
    expect(fast.shortBurnRate).toBeCloseTo(50, -1);
    // Newest first, one per slot.
    const times = evaluations.evaluations.map((e) => Number(e.evaluatedAt!.seconds));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(new Set(times).size).toBe(times.length);
    // Another tenant neither sees the SLO nor its snapshots; its own SLO has its own.
    await expect(
      obs.as(other, 'observer', (c) => c.listSloEvaluations({ sloId })),
    ).rejects.toMatchObject({ code: 'resource.not_found' });
    const mine = await eventually(async () => {
      const r = await obs.as(other, 'observer', (c) => c.listSloEvaluations({ sloId: otherSlo }));
      return r.evaluations.length ? r : undefined;
    }, 15_000);
    expect(mine.evaluations.every((e) => e.sloId === otherSlo)).toBe(true);
    const rows = await db.queryAsOwner<{ tenant_id: string; slo_id: string }>(
      'select distinct tenant_id, slo_id from obs_slo_evaluations order by tenant_id',
    );
    expect(rows).toEqual(
      expect.arrayContaining([
        { tenant_id: tenant, slo_id: sloId },
        { tenant_id: other, slo_id: otherSlo },
      ]),
    );
  });

  it('write one snapshot per slot however many replicas evaluate, and forget those past the window', async () => {
    const store = new PostgresSloEvaluations(database.db);
    const reader = new PrometheusClient(prometheus.url, 3000);
    const hour = 3_600_000;
    const replicas = [new SloEvaluator(store, reader, hour), new SloEvaluator(store, reader, hour)];
    // A slot a day ago: within every SLO's window, and one the service's own evaluator never takes.
    const at = new Date(Date.now() - 86_400_000);
    const slos = await store.allSlos();
    expect(slos.length).toBeGreaterThanOrEqual(2);
    const written = await Promise.all(replicas.map((r) => r.evaluateAll(at)));
    expect(written.reduce((a, b) => a + b, 0)).toBe(slos.length);
    const slot = new Date(Math.floor(at.getTime() / hour) * hour);
    const inSlot = await db.queryAsOwner<{ n: number }>(
      'select count(*)::int as n from obs_slo_evaluations where evaluated_at = $1',
      [slot],
    );
    expect(inSlot).toEqual([{ n: slos.length }]);
    // A snapshot older than its SLO's 30-day window goes at the next purge; one within stays.
    const slo = slos.find((s) => s.tenantId === tenant)!;
    const old = new Date(Date.now() - 31 * 86_400_000);
    const snapshot = { sloId: slo.id, errorRatios: {}, alerts: [], budgetRemaining: undefined };
    expect(await store.record(tenant, { ...snapshot, evaluatedAt: old })).toBe(true);
    expect(await store.record(tenant, { ...snapshot, evaluatedAt: old })).toBe(false);
    // The service's own evaluator purges every second too: either took it.
    expect(await store.purge()).toBeLessThanOrEqual(1);
    const gone = await db.queryAsOwner<{ n: number }>(
      'select count(*)::int as n from obs_slo_evaluations where slo_id = $1 and evaluated_at = $2',
      [slo.id, old],
    );
    expect(gone).toEqual([{ n: 0 }]);
    const left = await db.queryAsOwner<{ n: number }>(
      'select count(*)::int as n from obs_slo_evaluations where slo_id = $1 and evaluated_at = $2',
      [slo.id, slot],
    );
    expect(left).toEqual([{ n: 1 }]);
  });

  it('refuses a request without an SLO id with 400', async () => {
    await expect(
      obs.as(tenant, 'observer', (c) => c.listSloEvaluations({ sloId: '' })),
    ).rejects.toMatchObject({ code: 'validation.invalid_argument' });
  });
});
