import { stopOnSignals } from '@aion/runtime';
import { createLogger } from '@aion/telemetry';
import { loadOrchestratorConfig } from './config';
import { createOrchestratorService } from './orchestrator-service';

const logger = createLogger({ service: 'orchestrator' });

async function main(): Promise<void> {
  const config = loadOrchestratorConfig();
  const service = createOrchestratorService(config);
  stopOnSignals(await service.start(), logger);
}

main().catch((err: unknown) => {
  logger.error('orchestrator failed to start', {
    reason: err instanceof Error ? err.message : String(err),
  });
  process.exit(1);
});
