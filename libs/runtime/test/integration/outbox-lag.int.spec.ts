import path from 'node:path';
import { TaskStatus } from '@aion/contracts';
import { withTenant } from '@aion/db';
import { MemoryBus, OutboxWriter } from '@aion/events';
import { runWithTenant } from '@aion/tenancy';
import { defineService, loadConfigFor, type BuildContext, type BaseServiceConfig } from '../../src';
import { outbox } from '../fixtures/schema';

const migrationsFolder = path.join(__dirname, '..', 'fixtures', 'migrations');

describe('aion_outbox_lag_seconds', () => {
  it('is the age of the oldest unpublished event, 0 once the relay sent it', async () => {
    const config = loadConfigFor(
      'orchestrator',
      {},
      {},
      {
        AION_MODE: 'embedded',
        AION_DATA_DIR: 'memory',
        AION_ORCHESTRATOR_HTTP_PORT: '0',
        AION_ORCHESTRATOR_GRPC_PORT: '0',
        AION_ORCHESTRATOR_HOST: '127.0.0.1',
        LOG_LEVEL: 'error',
      },
    );
    let ctx: BuildContext<BaseServiceConfig> | undefined;
    const service = defineService({
      service: 'orchestrator',
      config,
      needs: { database: { migrationsFolder }, bus: true },
      outbox,
      // Polling effectively off: an event nobody nudges waits until the test flushes it.
      outboxPollIntervalMs: 600_000,
      embedded: { shared: { bus: new MemoryBus() }, internalTokenSecret: 'x'.repeat(40) },
      wire: (c) => {
        ctx = c;
        return {};
      },
    });
    const running = await service.start();
    try {
      const lag = async () => {
        const text = await (await fetch(`http://127.0.0.1:${running.httpPort}/metrics`)).text();
        const m = /^aion_outbox_lag_seconds\{service="orchestrator"\} (\S+)$/m.exec(text);
        return m ? Number(m[1]) : undefined;
      };
      expect(await lag()).toBe(0);
      await runWithTenant({ tenantId: 'acme', subject: 's', roles: [], requestId: 'r' }, () =>
        withTenant(ctx!.infrastructure.database!.db, 'acme', (tx) =>
          new OutboxWriter(outbox, 'aion/test').add(tx, {
            type: 'task.state_changed',
            key: 't-1',
            payload: { taskId: 't-1', toStatus: TaskStatus.OK },
          }),
        ),
      );
      await new Promise((r) => setTimeout(r, 300));
      expect(await lag()).toBeGreaterThanOrEqual(0.25);
      await ctx!.outbox!.relay.flush(5_000);
      expect(await lag()).toBe(0);
    } finally {
      await service.stop();
    }
  });
});
