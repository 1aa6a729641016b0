import {
  defineService,
  resolveMigrationsFolder,
  type EmbeddedShared,
  type ServiceLifecycle,
} from '@aion/runtime';
import { outbox } from './adapters/db/schema';
import { PostgresSlos } from './adapters/db/slo-repository';
import { registerObservabilityApi } from './api/grpc-handlers';
import { observabilityInfraNeeds, type ObservabilityConfig } from './config';
import { SloService } from './core/slo-service';

/**
 * Composition root of the observability service (SLOs, burn-rate alerts, dashboards).
 * Tests, the embedded launcher and main.ts all start it through here.
 */
export function createObservabilityService(
  config: ObservabilityConfig,
  embedded?: { shared: EmbeddedShared; internalTokenSecret: string },
): ServiceLifecycle {
  return defineService({
    service: 'observability',
    config,
    needs: {
      database: { migrationsFolder: resolveMigrationsFolder(__dirname) },
      bus: observabilityInfraNeeds.kafka,
      redis: false,
    },
    outbox,
    ...(embedded ? { embedded } : {}),
    wire: async ({ infrastructure, outbox: box, logger }) => {
      const slos = new SloService(new PostgresSlos(infrastructure.database!.db, box!.writer));
      logger.info('observability ready');
      return { registerGrpc: (server) => registerObservabilityApi(server, { slos }) };
    },
  });
}
