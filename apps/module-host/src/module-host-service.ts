import {
  defineService,
  resolveMigrationsFolder,
  type EmbeddedShared,
  type ServiceLifecycle,
} from '@aion/runtime';
import { outbox } from './adapters/db/schema';
import { moduleHostInfraNeeds, type ModuleHostConfig } from './config';

/**
 * Composition root of the module-host service (runs agent packages in WebAssembly sandboxes).
 * Tests, the embedded launcher and main.ts all start it through here.
 */
export function createModuleHostService(
  config: ModuleHostConfig,
  embedded?: { shared: EmbeddedShared; internalTokenSecret: string },
): ServiceLifecycle {
  return defineService({
    service: 'module-host',
    config,
    needs: {
      database: { migrationsFolder: resolveMigrationsFolder(__dirname) },
      bus: moduleHostInfraNeeds.kafka,
      redis: false,
    },
    outbox,
    ...(embedded ? { embedded } : {}),
  });
}
