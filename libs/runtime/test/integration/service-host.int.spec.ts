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
