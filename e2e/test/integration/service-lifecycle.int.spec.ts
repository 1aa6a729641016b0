import {
  createTestDatabase,
  distributedEnv,
  grpcHealthStatus,
  migrateTestDatabase,
  onLoopback,
  startServiceProcess,
  uniqueName,
  type ServiceProcess,
  type TestDatabase,
} from '@aion/testing';

const APPS = [
  'gateway',
  'orchestrator',
  'sovereign-ai',
  'data-pipeline',
  'observability',
  'module-host',
] as const;
const PREFIX: Record<(typeof APPS)[number], string> = {
  gateway: 'AION_GATEWAY_',
  orchestrator: 'AION_ORCHESTRATOR_',
  'sovereign-ai': 'AION_SOVEREIGN_',
  'data-pipeline': 'AION_PIPELINE_',
  observability: 'AION_OBSERVABILITY_',
  'module-host': 'AION_MODULE_HOST_',
};
const SECRET = 'e2e-internal-token-secret-0123456789abcdef';

let db: TestDatabase;

function baseEnv(app: (typeof APPS)[number]): NodeJS.ProcessEnv {
  return {
    ...distributedEnv(db, SECRET),
    ...onLoopback(PREFIX[app]),
    // The gateway's readiness and metrics are on an internal port of their own.
    ...(app === 'gateway' ? { AION_GATEWAY_OPS_PORT: '0' } : {}),
    LOG_LEVEL: 'info',
    [`${PREFIX[app]}SHUTDOWN_TIMEOUT_MS`]: '5000',
  };
}

beforeAll(async () => {
  db = await createTestDatabase('e2e');
  migrateTestDatabase(db);
});

afterAll(async () => {
  await db.drop();
});

describe('every service as its own process on PostgreSQL, Redis and Kafka', () => {
  const running = new Map<string, ServiceProcess>();

  beforeAll(async () => {
    for (const app of APPS) running.set(app, await startServiceProcess(app, baseEnv(app)));
  }, 240_000);

  afterAll(() => {
    for (const p of running.values()) p.kill('SIGKILL');
  });

  it.each(APPS)(
    '%s serves /healthz, /readyz (checking its dependencies), /metrics and grpc.health.v1',
    async (app) => {
      const service = running.get(app)!;
      const base = `http://127.0.0.1:${service.httpPort}`;
      const ops = `http://127.0.0.1:${service.opsPort}`;
      expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok', service: app });
      const ready = await fetch(`${ops}/readyz`);
      const body = (await ready.json()) as { status: string; checks: Record<string, string> };
      expect(ready.status).toBe(200);
      expect(body.checks['database']).toBe('ok');
      expect(body.checks['kafka']).toBe('ok');
      if (['gateway', 'orchestrator', 'sovereign-ai'].includes(app))
        expect(body.checks['redis']).toBe('ok');
      const metrics = await (await fetch(`${ops}/metrics`)).text();
      expect(metrics).toContain(
        `aion_http_requests_total{method="GET",route="/readyz",status="200",service="${app}"}`,
      );
      expect(await grpcHealthStatus(`127.0.0.1:${service.grpcPort}`)).toBe('SERVING');
      const missing = await fetch(`${base}/nope`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ error_code: 'resource.not_found' });
    },
  );

  it.each(APPS)('%s stops gracefully on SIGTERM within its bound and exits 0', async (app) => {
    const service = running.get(app)!;
    const started = Date.now();
    service.kill('SIGTERM');
    const { code } = await service.exited;
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(service.logs.map((l) => l['message'])).toEqual(
      expect.arrayContaining(['shutting down', 'stopped']),
    );
  });
});

describe('failure paths', () => {
  it('reports not ready (503) while Redis is unreachable, yet stays alive', async () => {
    const service = await startServiceProcess('orchestrator', {
      ...baseEnv('orchestrator'),
      REDIS_URL: 'redis://127.0.0.1:1',
    });
    try {
      const res = await fetch(`http://127.0.0.1:${service.httpPort}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { checks: Record<string, string> };
      expect(body.checks).toMatchObject({ database: 'ok', redis: 'unavailable' });
      expect(JSON.stringify(body)).not.toContain('127.0.0.1:1');
      expect((await fetch(`http://127.0.0.1:${service.httpPort}/healthz`)).status).toBe(200);
    } finally {
      service.kill('SIGKILL');
    }
  });

  it('refuses to start with bad configuration, naming every bad variable and no secret', async () => {
    const attempt = startServiceProcess('sovereign-ai', {
      AION_MODE: 'distributed',
      AION_SOVEREIGN_HTTP_PORT: 'not-a-port',
      REDIS_URL: 'redis://:hunter2hunter2@127.0.0.1:6379',
      KAFKA_BROKERS: 'x:1',
      [`UNRELATED_${uniqueName('x')}`]: '1',
    });
    const error = await attempt.catch((e: Error) => e.message);
    expect(error).toMatch(/exited with 1/);
    expect(error).toContain('AION_SOVEREIGN_HTTP_PORT');
    expect(error).toContain('DATABASE_URL');
    expect(error).toContain('AION_INTERNAL_TOKEN_SECRET');
    expect(error).not.toContain('hunter2');
  });
});
