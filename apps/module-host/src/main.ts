import { stopOnSignals } from '@aion/runtime';
import { createLogger } from '@aion/telemetry';
import { loadModuleHostConfig } from './config';
import { createModuleHostService } from './module-host-service';

const logger = createLogger({ service: 'module-host' });

async function main(): Promise<void> {
  const config = loadModuleHostConfig();
  const service = createModuleHostService(config);
  stopOnSignals(await service.start(), logger);
}

main().catch((err: unknown) => {
  logger.error('module-host failed to start', {
    reason: err instanceof Error ? err.message : String(err),
  });
  process.exit(1);
});
