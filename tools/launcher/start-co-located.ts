/**
 * The co-located profile on real infrastructure: module-host, sovereign-ai, the orchestrator and
 * the gateway (AION_SERVICES picks others or fewer) in one process, each from its own composition
 * root with its own configuration, on PostgreSQL, Redis and Kafka (AION_MODE=distributed). Calls
 * between them go in-process (AION_CO_LOCATED=true): same permission checks, tenant, deadlines
 * and errors as over gRPC, without encoding or HTTP/2. Each still serves gRPC on its port, for
 * peers in other processes. What the Helm chart's co-located value runs, one pod per replica.
 *   AION_MODE=distributed DATABASE_URL=… REDIS_URL=… KAFKA_BROKERS=… npx tsx tools/launcher/start-co-located.ts
 */
import type { RunningService, ServiceLifecycle } from '@aion/runtime';
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

/** Dependencies first, the public edge last: the gateway never answers before its backends exist. */
const ALL: Record<string, (env: NodeJS.ProcessEnv) => ServiceLifecycle> = {
  'module-host': (env) => createModuleHostService(loadModuleHostConfig(env)),
  'sovereign-ai': (env) => createSovereignAiService(loadSovereignAiConfig(env)),
  observability: (env) => createObservabilityService(loadObservabilityConfig(env)),
  'data-pipeline': (env) => createDataPipelineService(loadDataPipelineConfig(env)),
  orchestrator: (env) => createOrchestratorService(loadOrchestratorConfig(env)),
  gateway: (env) => createGatewayService(loadGatewayConfig(env)),
};
const CORE = ['module-host', 'sovereign-ai', 'orchestrator', 'gateway'];

async function main(): Promise<void> {
  const env: NodeJS.ProcessEnv = { AION_CO_LOCATED: 'true', ...process.env };
  if (env['AION_MODE'] !== 'distributed')
    throw new Error(
      'the co-located launcher runs on real infrastructure: set AION_MODE=distributed',
    );
  const wanted = (env['AION_SERVICES'] ?? CORE.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = wanted.filter((name) => !ALL[name]);
  if (unknown.length) throw new Error(`AION_SERVICES names no such service: ${unknown.join(', ')}`);
  const started: [string, RunningService][] = [];
  try {
    for (const name of Object.keys(ALL).filter((n) => wanted.includes(n)))
      started.push([name, await ALL[name]!(env).start()]);
  } catch (err) {
    for (const [, s] of started.reverse()) await s.stop().catch(() => undefined);
    throw err;
  }
  logger.info('Aion is running co-located', { services: portsOf(started) });
  stopOnSignal(started, logger);
}

main().catch((err: unknown) => {
  logger.error('Aion failed to start', {
    reason: err instanceof Error ? err.message : String(err),
  });
  process.exit(1);
});
