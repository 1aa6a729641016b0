import path from 'node:path';
import { TaskStatus } from '@aion/contracts';
import { withTenant } from '@aion/db';
import { MemoryBus, OutboxWriter, TOPICS } from '@aion/events';
import { runWithTenant } from '@aion/tenancy';
import {
  createTestDatabase,
  eventually,
  testKafkaTopicEnv,
  type TestDatabase,
} from '@aion/testing';
import { createServer, type AddressInfo } from 'node:net';
import { defineService, loadConfigFor, type BuildContext, type BaseServiceConfig } from '../../src';
import { outbox } from '../fixtures/schema';

const migrationsFolder = path.join(__dirname, '..', 'fixtures', 'migrations');

function embeddedConfig() {
  return loadConfigFor(
    'orchestrator',
    {},
    {},
    {
      AION_MODE: 'embedded',
      AION_DATA_DIR: 'memory',
      AION_ORCHESTRATOR_HTTP_PORT: '0',
      AION_ORCHESTRATOR_GRPC_PORT: '0',
      AION_ORCHESTRATOR_HOST: '127.0.0.1',
      AION_ORCHESTRATOR_SHUTDOWN_TIMEOUT_MS: '3000',
      LOG_LEVEL: 'error',
    },
  );
}

describe('service host on the embedded adapters (PGlite, in-memory bus)', () => {
  it('is ready, drains an in-flight request on stop, and flushes the outbox before closing', async () => {
    const bus = new MemoryBus();
    let ctx: BuildContext<BaseServiceConfig> | undefined;
    let releaseSlow: (() => void) | undefined;
    const service = defineService({
      service: 'orchestrator',
      config: embeddedConfig(),
      needs: { database: { migrationsFolder }, bus: true },
      outbox,
      // Polling effectively off: an event that nobody nudges is published only by the shutdown flush.
      outboxPollIntervalMs: 600_000,
      embedded: { shared: { bus }, internalTokenSecret: 'x'.repeat(40) },
      wire: (c) => {
        ctx = c;
        return {
          registerHttp: (app) =>
            app.get('/slow', (_req, res) => {
              releaseSlow = () => res.json({ finished: true });
            }),
        };
      },
    });
    const running = await service.start();
    const base = `http://127.0.0.1:${running.httpPort}`;
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    // Readiness names what it depends on (the database); Kafka is reported by verbose health only.
    expect(await ready.json()).toEqual({
      status: 'ready',
      service: 'orchestrator',
      checks: { database: 'ok' },
    });
    const health = await (await fetch(`${base}/healthz?verbose`)).json();
    expect(health).toMatchObject({
      status: 'ok',
      ready: true,
      dependencies: {
        database: { state: 'up', required: true },
        kafka: { state: 'up', required: false },
      },
    });

    // An event committed with the state change, written without nudging the relay: only the
    // shutdown flush can publish it before the poll interval.
    const silentWriter = new OutboxWriter(outbox, 'aion/test');
    await runWithTenant({ tenantId: 'acme', subject: 's', roles: [], requestId: 'r' }, () =>
      withTenant(ctx!.infrastructure.database!.db, 'acme', (tx) =>
        silentWriter.add(tx, {
          type: 'task.state_changed',
          key: 't-1',
          payload: { taskId: 't-1', toStatus: TaskStatus.OK },
        }),
      ),
    );

    const slow = fetch(`${base}/slow`);
    await eventually(() => releaseSlow !== undefined, 5000);
    const stopping = service.stop();
    await new Promise((r) => setTimeout(r, 100));
    expect((await fetch(`${base}/healthz`).catch(() => undefined))?.status ?? 'refused').toBe(
      'refused',
    );
    releaseSlow!();
    expect(await (await slow).json()).toEqual({ finished: true });
    await stopping;

    const published = bus.records(TOPICS.tasksLifecycle);
    expect(published.map((r) => r.key)).toEqual(['t-1']);
  });
});

describe('service host with a public HTTP port (the gateway)', () => {
  it('serves readiness and metrics on its ops port only, and probes its dependencies at most once a second', async () => {
    const bus = new MemoryBus();
    const config = loadConfigFor(
      'gateway',
      {},
      {},
      {
        AION_MODE: 'embedded',
        AION_DATA_DIR: 'memory',
        AION_GATEWAY_HTTP_PORT: '0',
        AION_GATEWAY_GRPC_PORT: '0',
        LOG_LEVEL: 'error',
      },
    );
    // Embedded mode binds loopback; an ephemeral HTTP port gets an ephemeral ops port.
    expect(config.host).toBe('127.0.0.1');
    expect(config.opsPort).toBe(0);
    let probes = 0;
    const service = defineService({
      service: 'gateway',
      config,
      needs: { database: { migrationsFolder }, bus: true },
      outbox,
      embedded: { shared: { bus }, internalTokenSecret: 'x'.repeat(40) },
      wire: (c) => {
        const check = c.infrastructure.checks[0]!;
        const counted = { ...check, check: async () => (probes++, check.check()) };
        c.infrastructure.checks.splice(0, 1, counted);
        return {};
      },
    });
    const running = await service.start();
    try {
      expect(running.opsPort).not.toBe(running.httpPort);
      const publicPort = `http://127.0.0.1:${running.httpPort}`;
      const opsPort = `http://127.0.0.1:${running.opsPort}`;
      expect((await fetch(`${publicPort}/healthz`)).status).toBe(200);
      expect((await fetch(`${publicPort}/readyz`)).status).toBe(404);
      expect((await fetch(`${publicPort}/metrics`)).status).toBe(404);
      expect((await fetch(`${opsPort}/healthz`)).status).toBe(200);
      // Dependency detail is for the ops port: the public one answers plain liveness.
      expect(await (await fetch(`${publicPort}/healthz?verbose`)).json()).toEqual({
        status: 'ok',
        service: 'gateway',
      });
      expect(await (await fetch(`${opsPort}/healthz?verbose`)).json()).toMatchObject({
        dependencies: { database: { state: 'up' } },
      });
      expect((await fetch(`${opsPort}/metrics`)).status).toBe(200);
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => fetch(`${opsPort}/readyz`).then((r) => r.status)),
      );
      expect(new Set(answers)).toEqual(new Set([200]));
      expect(probes).toBe(1);
    } finally {
      await service.stop();
    }
  });
});

/** Milliseconds `fn` took, with its result. */
async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

describe('readiness that means "I can serve now"', () => {
  it('answers within a second when a check hangs: not ready if it is required, ready if not', async () => {
    const never = () => new Promise<void>(() => undefined);
    for (const required of [true, false]) {
      const service = defineService({
        service: 'orchestrator',
        config: embeddedConfig(),
        needs: { database: { migrationsFolder } },
        embedded: { shared: { bus: new MemoryBus() }, internalTokenSecret: 'x'.repeat(40) },
        wire: (c) => {
          c.infrastructure.checks.push({ name: 'stuck', required, check: never });
          return {};
        },
      });
      const running = await service.start();
      try {
        const base = `http://127.0.0.1:${running.httpPort}`;
        const ready = await timed(() => fetch(`${base}/readyz`));
        expect(ready.ms).toBeLessThan(1000);
        expect(ready.value.status).toBe(required ? 503 : 200);
        expect(await ready.value.json()).toEqual({
          status: required ? 'not_ready' : 'ready',
          service: 'orchestrator',
          checks: required ? { database: 'ok', stuck: 'unavailable' } : { database: 'ok' },
        });
        const health = await timed(() => fetch(`${base}/healthz?verbose`).then((r) => r.json()));
        expect(health.ms).toBeLessThan(1000);
        expect(health.value).toMatchObject({
          status: 'ok',
          ready: !required,
          dependencies: { database: { state: 'up' }, stuck: { state: 'down', required } },
        });
        const metrics = await (await fetch(`${base}/metrics`)).text();
        expect(metrics).toMatch(
          /aion_dependency_up\{dependency="stuck",service="orchestrator"\} 0/,
        );
        expect(metrics).toMatch(
          /aion_dependency_up\{dependency="database",service="orchestrator"\} 1/,
        );
      } finally {
        await service.stop();
      }
    }
  });
});

describe('readiness on PostgreSQL with Kafka unreachable (distributed mode)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('readyz');
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('stays ready (the outbox absorbs Kafka) while /healthz?verbose and the metrics name kafka down', async () => {
    // A broker address nothing listens on: bound, then released.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const deadBroker = `127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const config = loadConfigFor(
      'orchestrator',
      {},
      { database: true, kafka: true },
      {
        AION_MODE: 'distributed',
        DATABASE_URL: db.appUrl,
        KAFKA_BROKERS: deadBroker,
        ...testKafkaTopicEnv(),
        AION_INTERNAL_TOKEN_SECRET: 'x'.repeat(40),
        AION_ORCHESTRATOR_HTTP_PORT: '0',
        AION_ORCHESTRATOR_GRPC_PORT: '0',
        AION_ORCHESTRATOR_HOST: '127.0.0.1',
        AION_ORCHESTRATOR_SHUTDOWN_TIMEOUT_MS: '3000',
        LOG_LEVEL: 'error',
      },
    );
    const service = defineService({
      service: 'orchestrator',
      config,
      needs: { database: { migrationsFolder }, bus: true },
    });
    const running = await service.start();
    try {
      const base = `http://127.0.0.1:${running.httpPort}`;
      const ready = await timed(() => fetch(`${base}/readyz`));
      expect(ready.ms).toBeLessThan(1000);
      expect(ready.value.status).toBe(200);
      expect(await ready.value.json()).toMatchObject({ checks: { database: 'ok' } });
      const health = (await (await fetch(`${base}/healthz?verbose`)).json()) as {
        dependencies: Record<string, { state: string; latency_ms: number }>;
      };
      expect(health.dependencies['database']).toMatchObject({ state: 'up', required: true });
      expect(health.dependencies['kafka']).toMatchObject({ state: 'down', required: false });
      expect(JSON.stringify(health)).not.toContain(deadBroker);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/aion_dependency_up\{dependency="kafka",service="orchestrator"\} 0/);
      expect(metrics).toMatch(
        /aion_dependency_up\{dependency="database",service="orchestrator"\} 1/,
      );
    } finally {
      await service.stop();
    }
  });
});
