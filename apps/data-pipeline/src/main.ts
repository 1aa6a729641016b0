import { runServiceMain } from '@aion/runtime';
import { loadDataPipelineConfig } from './config';
import { createDataPipelineService } from './data-pipeline-service';

runServiceMain({
  service: 'data-pipeline',
  loadConfig: () => loadDataPipelineConfig(),
  create: (config) => createDataPipelineService(config),
});
