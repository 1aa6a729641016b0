/**
 * `npm start`: the whole platform in one process on its embedded defaults — every service from
 * its composition root on its own ports, PGlite instead of PostgreSQL, the in-memory bus instead
 * of Kafka, in-process stores instead of Redis. Same code paths; only the adapters differ.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import {
  migratePglite,
  migrationsFolderOf,
  openPglite,
  openPgliteThread,
  SERVICE_TABLE_PREFIXES,
  type ServiceWithTables,
} from '@aion/db';
import { MemoryBus } from '@aion/events';
import { EMBEDDED_APP_ROLE, type RunningService, type ServiceLifecycle } from '@aion/runtime';
import { createLogger } from '@aion/telemetry';
import { loadDataPipelineConfig } from '../../apps/data-pipeline/src/config';
import { createDataPipelineService } from '../../apps/data-pipeline/src/data-pipeline-service';
import { loadGatewayConfig } from '../../apps/gateway/src/config';
import { createGatewayService } from '../../apps/gateway/src/gateway-service';
import { loadModuleHostConfig } from '../../apps/module-host/src/config';
import { createModuleHostService } from '../../apps/module-host/src/module-host-service';
import { loadObservabilityConfig } from '../../apps/observability/src/config';
import { createObservabilityService } from '../../apps/observability/src/observability-service';
import { loadOrchestratorConfig } from '../../apps/orchestrator/src/config';
import { createOrchestratorService } from '../../apps/orchestrator/src/orchestrator-service';
import { loadSovereignAiConfig } from '../../apps/sovereign-ai/src/config';
import { createSovereignAiService } from '../../apps/sovereign-ai/src/sovereign-ai-service';
import { portsOf, stopOnSignal } from './lifecycle';

const logger = createLogger({ service: 'launcher' });

async function main(): Promise<void> {
  const repoRoot = path.resolve(__dirname, '..', '..');
  const samples = path.join(repoRoot, 'tools', 'modules');
  const samplePackages = readdirSync(samples).filter((name) =>
    existsSync(path.join(samples, name, 'aion.yaml')),
  );
  const env: NodeJS.ProcessEnv = {
    // The sample packages make the embedded default useful without any external model.
    AION_MODULE_HOST_PRELOAD: samplePackages.map((name) => path.join(samples, name)).join(','),
    AION_MODULE_HOST_PACKAGE_ROOTS: samples,
    ...process.env,
    AION_MODE: 'embedded',
  };
  const dataDir = env['AION_DATA_DIR'] ?? path.join(repoRoot, '.aion', 'data');
  if (dataDir !== 'memory') mkdirSync(dataDir, { recursive: true });
  const location = dataDir === 'memory' ? {} : { dataDir: path.join(dataDir, 'pglite') };
  // PGlite runs on its own thread; AION_PGLITE_THREAD=false keeps it on the event loop (to
  // measure the difference: tools/bench/embedded.bench.ts).
  const database =
    env['AION_PGLITE_THREAD'] === 'false'
      ? await openPglite(location)
      : await openPgliteThread(location);
  // Every service's migrations run before any service serves, then the session drops to the app role.
  const targets = (Object.keys(SERVICE_TABLE_PREFIXES) as ServiceWithTables[]).map((service) => ({
    folder: path.join(repoRoot, migrationsFolderOf(service)),
    prefix: SERVICE_TABLE_PREFIXES[service],
  }));
  await migratePglite(database, targets, { appRole: EMBEDDED_APP_ROLE });
  const shared = { bus: new MemoryBus({ logger }), database };
  const embedded = {
    shared,
    internalTokenSecret:
      process.env['AION_INTERNAL_TOKEN_SECRET'] ?? randomBytes(32).toString('base64url'),
  };
  // Dependencies first, the public edge last, so the gateway never answers before its backends exist.
  const services: [string, ServiceLifecycle][] = [
    ['module-host', createModuleHostService(loadModuleHostConfig(env), embedded)],
    ['sovereign-ai', createSovereignAiService(loadSovereignAiConfig(env), embedded)],
    ['observability', createObservabilityService(loadObservabilityConfig(env), embedded)],
    ['data-pipeline', createDataPipelineService(loadDataPipelineConfig(env), embedded)],
    ['orchestrator', createOrchestratorService(loadOrchestratorConfig(env), embedded)],
    ['gateway', createGatewayService(loadGatewayConfig(env), embedded)],
  ];
  const started: [string, RunningService][] = [];
  for (const [name, service] of services) started.push([name, await service.start()]);
  logger.info('Aion is running on its embedded defaults', { services: portsOf(started) });
  stopOnSignal(started, logger, async () => {
    await shared.bus.close();
    await database.close();
  });
}

main().catch((err: unknown) => {
  logger.error('Aion failed to start', {
    reason: err instanceof Error ? err.message : String(err),
  });
  process.exit(1);
});
