import { runServiceMain } from '@aion/runtime';
import { loadOrchestratorConfig } from './config';
import { createOrchestratorService } from './orchestrator-service';

runServiceMain({
  service: 'orchestrator',
  loadConfig: () => loadOrchestratorConfig(),
  create: (config) => createOrchestratorService(config),
});
