import { stopOnSignals } from '@aion/runtime';
import { createLogger } from '@aion/telemetry';
import { loadGatewayConfig } from './config';
import { createGatewayService } from './gateway-service';

const logger = createLogger({ service: 'gateway' });

async function main(): Promise<void> {
  const config = loadGatewayConfig();
  const service = createGatewayService(config);
  stopOnSignals(await service.start(), logger);
}

main().catch((err: unknown) => {
  logger.error('gateway failed to start', {
    reason: err instanceof Error ? err.message : String(err),
  });
  process.exit(1);
});
