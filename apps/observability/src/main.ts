import { runServiceMain } from '@aion/runtime';
import { loadObservabilityConfig } from './config';
import { createObservabilityService } from './observability-service';

runServiceMain({
  service: 'observability',
  loadConfig: () => loadObservabilityConfig(),
  create: (config) => createObservabilityService(config),
});
