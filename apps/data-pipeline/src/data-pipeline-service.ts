import {
  defineService,
  resolveMigrationsFolder,
  type EmbeddedShared,
  type ServiceLifecycle,
} from '@aion/runtime';
import { outbox } from './adapters/db/schema';
import { dataPipelineInfraNeeds, type DataPipelineConfig } from './config';

/**
 * Composition root of the data-pipeline service (ingest, profile, clean, transform, quality gate, version).
 * Tests, the embedded launcher and main.ts all start it through here.
 */
export function createDataPipelineService(
  config: DataPipelineConfig,
  embedded?: { shared: EmbeddedShared; internalTokenSecret: string },
): ServiceLifecycle {
  return defineService({
    service: 'data-pipeline',
    config,
    needs: {
      database: { migrationsFolder: resolveMigrationsFolder(__dirname) },
      bus: dataPipelineInfraNeeds.kafka,
      redis: false,
    },
    outbox,
    ...(embedded ? { embedded } : {}),
  });
}
