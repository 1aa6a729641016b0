import path from 'node:path';
import { TaskStatus } from '@aion/contracts';
import { withTenant } from '@aion/db';
import { MemoryBus, OutboxWriter, TOPICS } from '@aion/events';
import { runWithTenant } from '@aion/tenancy';
import { eventually } from '@aion/testing';
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
    expect(await ready.json()).toMatchObject({
      status: 'ready',
      checks: { database: 'ok', kafka: 'ok' },
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
