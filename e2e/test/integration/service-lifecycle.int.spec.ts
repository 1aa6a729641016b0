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
    // The per-IP bucket of 127.0.0.1 is in the Redis every suite shares: others may have spent it.
    ...(app === 'gateway'
      ? { AION_GATEWAY_OPS_PORT: '0', AION_GATEWAY_RATE_LIMIT_IP_PER_MINUTE: '100000' }
      : {}),
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
      expect(await (await fetch(`${base}/healthz`)).json()).toEqual({
        status: 'ok',
        service: app,
        // A module host says which pool it serves, with what accelerator (issue 15), and what
        // limits its subprocess modules (issue 18: a cgroup where the host allows, else rlimits).
        ...(app === 'module-host' && {
          details: {
            pool: 'default',
            accelerator: 'cpu',
            subprocess_limits: expect.stringMatching(/^(cgroup2|cgroup1|rlimit)$/),
          },
        }),
      });
      const ready = await fetch(`${ops}/readyz`);
      const body = (await ready.json()) as { status: string; checks: Record<string, string> };
      expect(ready.status).toBe(200);
      // Readiness gates on the database only; the rest is detail for /healthz?verbose.
      expect(body.checks).toEqual({ database: 'ok' });
      const health = (await (await fetch(`${ops}/healthz?verbose`)).json()) as {
        dependencies: Record<string, { state: string }>;
      };
      expect(Object.keys(health.dependencies).sort()).toEqual(
        app === 'gateway' ? ['database', 'kafka', 'redis'] : ['database', 'kafka'],
      );
      for (const d of Object.values(health.dependencies)) expect(d.state).toBe('up');
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
  it('stays ready while Redis is unreachable (the gateway degrades), naming it in verbose health', async () => {
    const service = await startServiceProcess('gateway', {
      ...baseEnv('gateway'),
      REDIS_URL: 'redis://127.0.0.1:1',
    });
    try {
      const ops = `http://127.0.0.1:${service.opsPort}`;
      const res = await fetch(`${ops}/readyz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ checks: { database: 'ok' } });
      const health = await (await fetch(`${ops}/healthz?verbose`)).json();
      expect(health).toMatchObject({ ready: true, dependencies: { redis: { state: 'down' } } });
      expect(JSON.stringify(health)).not.toContain('127.0.0.1:1');
      expect(await (await fetch(`${ops}/metrics`)).text()).toContain(
        'aion_dependency_up{dependency="redis",service="gateway"} 0',
      );
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
