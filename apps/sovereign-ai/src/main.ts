import { stopOnSignals } from '@aion/runtime';
import { createLogger } from '@aion/telemetry';
import { loadSovereignAiConfig } from './config';
import { createSovereignAiService } from './sovereign-ai-service';

const logger = createLogger({ service: 'sovereign-ai' });

async function main(): Promise<void> {
  const config = loadSovereignAiConfig();
  const service = createSovereignAiService(config);
  stopOnSignals(await service.start(), logger);
}

main().catch((err: unknown) => {
  logger.error('sovereign-ai failed to start', {
    reason: err instanceof Error ? err.message : String(err),
  });
  process.exit(1);
});
