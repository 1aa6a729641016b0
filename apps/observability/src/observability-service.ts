import {
  defineService,
  resolveMigrationsFolder,
  type EmbeddedShared,
  type ServiceLifecycle,
} from '@aion/runtime';
import { outbox } from './adapters/db/schema';
import { observabilityInfraNeeds, type ObservabilityConfig } from './config';

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
  });
}
