import { runServiceMain } from '@aion/runtime';
import { loadSovereignAiConfig } from './config';
import { createSovereignAiService } from './sovereign-ai-service';

runServiceMain({
  service: 'sovereign-ai',
  loadConfig: () => loadSovereignAiConfig(),
  create: (config) => createSovereignAiService(config),
});
