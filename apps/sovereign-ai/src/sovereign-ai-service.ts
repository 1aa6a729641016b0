import {
  defineService,
  resolveMigrationsFolder,
  type EmbeddedShared,
  type ServiceLifecycle,
} from '@aion/runtime';
import { outbox } from './adapters/db/schema';
import { sovereignAiInfraNeeds, type SovereignAiConfig } from './config';

/**
 * Composition root of the sovereign-ai service (residency rules, jurisdiction routing, compliance maps, model registry).
 * Tests, the embedded launcher and main.ts all start it through here.
 */
export function createSovereignAiService(
  config: SovereignAiConfig,
  embedded?: { shared: EmbeddedShared; internalTokenSecret: string },
): ServiceLifecycle {
  return defineService({
    service: 'sovereign-ai',
    config,
    needs: {
      database: { migrationsFolder: resolveMigrationsFolder(__dirname) },
      bus: sovereignAiInfraNeeds.kafka,
      redis: true,
    },
    outbox,
    ...(embedded ? { embedded } : {}),
  });
}
