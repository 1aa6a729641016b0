import { stopOnSignals } from '@aion/runtime';
import { createLogger } from '@aion/telemetry';
import { loadDataPipelineConfig } from './config';
import { createDataPipelineService } from './data-pipeline-service';

const logger = createLogger({ service: 'data-pipeline' });

async function main(): Promise<void> {
  const config = loadDataPipelineConfig();
  const service = createDataPipelineService(config);
  stopOnSignals(await service.start(), logger);
}

main().catch((err: unknown) => {
  logger.error('data-pipeline failed to start', {
    reason: err instanceof Error ? err.message : String(err),
  });
  process.exit(1);
});
