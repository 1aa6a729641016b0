import { runServiceMain } from '@aion/runtime';
import { loadGatewayConfig } from './config';
import { createGatewayService } from './gateway-service';

runServiceMain({
  service: 'gateway',
  loadConfig: () => loadGatewayConfig(),
  create: (config) => createGatewayService(config),
});
