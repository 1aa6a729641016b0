import { runServiceMain } from '@aion/runtime';
import { loadModuleHostConfig } from './config';
import { createModuleHostService } from './module-host-service';

runServiceMain({
  service: 'module-host',
  loadConfig: () => loadModuleHostConfig(),
  create: (config) => createModuleHostService(config),
});
