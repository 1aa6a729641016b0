import { stopOnSignals } from '@aion/runtime';
import { createLogger } from '@aion/telemetry';
import { loadObservabilityConfig } from './config';
import { createObservabilityService } from './observability-service';

const logger = createLogger({ service: 'observability' });

async function main(): Promise<void> {
  const config = loadObservabilityConfig();
  const service = createObservabilityService(config);
  stopOnSignals(await service.start(), logger);
}

main().catch((err: unknown) => {
  logger.error('observability failed to start', {
    reason: err instanceof Error ? err.message : String(err),
  });
  process.exit(1);
});
