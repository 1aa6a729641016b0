import {
  defineService,
  resolveMigrationsFolder,
  type EmbeddedShared,
  type ServiceLifecycle,
} from '@aion/runtime';
import { outbox } from './adapters/db/schema';
import { orchestratorInfraNeeds, type OrchestratorConfig } from './config';

/**
 * Composition root of the orchestrator service (tasks: state machine, decision router, budgets, breakers, dead letters).
 * Tests, the embedded launcher and main.ts all start it through here.
 */
export function createOrchestratorService(
  config: OrchestratorConfig,
  embedded?: { shared: EmbeddedShared; internalTokenSecret: string },
): ServiceLifecycle {
  return defineService({
    service: 'orchestrator',
    config,
    needs: {
      database: { migrationsFolder: resolveMigrationsFolder(__dirname) },
      bus: orchestratorInfraNeeds.kafka,
      redis: true,
    },
    outbox,
    ...(embedded ? { embedded } : {}),
  });
}
