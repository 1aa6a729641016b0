import { readFileSync } from 'node:fs';
import { ModuleService, ObservabilityService, SovereignService } from '@aion/contracts';
import { AuditTrail, SOVEREIGN_CHANGES } from '@aion/events';
import { createGrpcClient } from '@aion/grpc';
import { JurisdictionRegistry } from '@aion/jurisdictions';
import { BreakerRegistry } from '@aion/resilience';
import {
  defineService,
  tenantChangesWorker,
  resolveMigrationsFolder,
  type EmbeddedShared,
  type ServiceLifecycle,
} from '@aion/runtime';
import { registerBreakerStateGauge, TaskMetrics } from '@aion/telemetry';
import { auditRecorderWorker } from './adapters/bus/audit-recorder';
import { deadLetterRecorderWorker } from './adapters/bus/dead-letter-recorder';
import { PostgresAuditLog } from './adapters/db/audit-log-repository';
import { PostgresStats } from './adapters/db/stats-repository';
import { PostgresBreakerStore } from './adapters/db/breaker-store';
import { PostgresBudgets } from './adapters/db/budget-repository';
import { PostgresDeadLetters } from './adapters/db/dead-letter-repository';
import { PostgresGovernance } from './adapters/db/governance-repository';
import { outbox } from './adapters/db/schema';
import { newReplicaId, PostgresReplicaLease } from './adapters/db/replica-lease';
import { PostgresTaskRepository } from './adapters/db/task-repository';
import { EngineDispatcher } from './adapters/engines/executor';
import { ModuleEngineExecutor } from './adapters/engines/module-engine';
import { ModuleHostPools } from './adapters/engines/module-host-pools';
import { OpenAiCompatibleExecutor } from './adapters/engines/openai-compatible';
import { MeteredExecutor, observeTaskEnds } from './adapters/telemetry/task-metrics';
import { engineHealthWorker } from './adapters/observability/engine-health-poller';
import { LangfuseExporters } from './adapters/langfuse/langfuse-exporter';
import { configuredDecisions, traceLlmTasks } from './adapters/langfuse/llm-tracing';
import { observabilityDecisions } from './adapters/langfuse/tenant-decisions';
import { SovereignResidency } from './adapters/sovereign/sovereign-residency';
import { registerGovernanceApi } from './api/governance-handlers';
import { registerOrchestratorApi } from './api/grpc-handlers';
import { modulePoolsOf, orchestratorInfraNeeds, type OrchestratorConfig } from './config';
import { AuditLogService } from './core/audit-log';
import { StatsService } from './core/stats';
import { TERMINAL } from './core/task-state';
import { countsAgainstEngine } from './core/engine-health';
import { parseEngines, parsePolicies } from './core/engines';
import { DeadLetterService } from './core/dead-letters';
import { GovernanceService } from './core/governance';
import { ClusterLatency } from './core/cluster-latency';
import { LatencyWindows } from './core/latency';
import { ReceiptService } from './core/receipts';
import { TaskService } from './core/task-service';

function readConfigFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new Error(`cannot read the ${what} file ${path}`);
  }
}

/**
 * Composition root of the orchestrator: the task API, decision router, budgets and breakers.
 * Tests, the embedded launcher and main.ts all start it through here.
 */
export function createOrchestratorService(
  config: OrchestratorConfig,
  embedded?: { shared: EmbeddedShared; internalTokenSecret: string },
): ServiceLifecycle {
  return defineService({
    service: 'orchestrator',
    config,
    needs: {
      database: { migrationsFolder: resolveMigrationsFolder(__dirname) },
      bus: orchestratorInfraNeeds.kafka,
      // Nothing here uses Redis: opening it would only make its outages this service's.
      redis: false,
    },
    outbox,
    ...(embedded ? { embedded } : {}),
    wire: ({
      infrastructure,
      outbox: box,
      tokens,
      grpcCredentials,
      coLocated,
      logger,
      metrics,
    }) => {
      const jurisdictions = JurisdictionRegistry.fromFile(config.regionsFile);
      // Invalid files stop the service at startup with every problem listed.
      const engines = parseEngines(readConfigFile(config.enginesFile, 'engines'), jurisdictions);
      const policies = config.policiesFile
        ? parsePolicies(readConfigFile(config.policiesFile, 'policies'), engines)
        : {};
      const sovereign = createGrpcClient(SovereignService, config.sovereignAddress, {
        tokens,
        credentials: grpcCredentials,
        inProcess: coLocated,
        metrics,
        defaultDeadlineMs: 5_000,
      });
      const residency = new SovereignResidency(
        sovereign,
        config.sovereignCacheSeconds * 1000,
        5_000,
      );
      const db = infrastructure.database!.db;
      // One client per module-host pool; in the co-located profile a pool served by this
      // process is called in-process like any other client.
      const poolClients = modulePoolsOf(config).map((pool) => ({
        ...pool,
        client: createGrpcClient(ModuleService, pool.address, {
          tokens,
          credentials: grpcCredentials,
          inProcess: coLocated,
          metrics,
        }),
      }));
      const modules = new ModuleHostPools(poolClients, { logger });
      logger.info('module-host pools', {
        pools: poolClients.map((p) => `${p.name} (${p.accelerator}) at ${p.address}`),
      });
      // One breaker per engine, shared by every replica through orc_circuit_breakers.
      const breakers = new BreakerRegistry(
        {
          consecutiveFailures: config.breakerFailures,
          halfOpenAfterMs: config.breakerHalfOpenMs,
          isFailure: countsAgainstEngine,
        },
        (engine, state) => logger.warn('engine circuit breaker changed state', { engine, state }),
        {
          store: new PostgresBreakerStore(db),
          // A trial call is one engine call of a task: the task timeout bounds it.
          trialLeaseMs: config.taskTimeoutMs + 5_000,
          onError: (err, action) =>
            logger.warn('circuit breaker table unavailable; this replica keeps its own view', {
              action,
              reason: err instanceof Error ? err.message : String(err),
            }),
        },
      );
      let stopBreakerSync: (() => Promise<void>) | undefined;
      const budgets = new PostgresBudgets(db);
      // The tasks this replica runs carry its id; its lease lapsing lets another recover them.
      const lease = new PostgresReplicaLease(db, newReplicaId(), config.replicaLeaseMs, logger);
      const repository = new PostgresTaskRepository(db, box!.writer, {
        remainingBudgets: budgets.remainingCache,
        logger,
        replicaId: lease.replicaId,
        writesInFlight: infrastructure.database!.kind === 'pglite' ? 1 : 4,
      });
      // sla.p95_ms routing on every replica's calls (the observability service's engine health)
      // when it is configured, each replica's own window otherwise and as the fallback.
      const observability = config.observabilityAddress
        ? createGrpcClient(ObservabilityService, config.observabilityAddress, {
            tokens,
            credentials: grpcCredentials,
            inProcess: coLocated,
            metrics,
          })
        : undefined;
      const cluster = observability && new ClusterLatency(3 * config.engineHealthRefreshMs);
      const latency = cluster ?? new LatencyWindows();
      const engineHealth =
        observability && cluster
          ? engineHealthWorker({
              client: observability,
              latency: cluster,
              intervalMs: config.engineHealthRefreshMs,
              platformTenant: config.platformTenant,
              logger,
            })
          : undefined;
      // Issue 16's task, engine, LLM, residency and breaker metrics on this service's registry.
      const taskMetrics = new TaskMetrics(metrics);
      taskMetrics.primeTasks(engines, TERMINAL);
      observeTaskEnds(repository, taskMetrics);
      registerBreakerStateGauge(
        metrics,
        () => engines.map((e) => e.name),
        (engine) => breakers.state(engine),
      );
      // LLM calls traced to Langfuse as each tenant's settings in the observability service say
      // (opt-in, masking, its deployment's jurisdiction); without that service, the one
      // deployment configured here for the tenants it names.
      const exporters = new LangfuseExporters({ logger });
      const decideLlmTrace = observability
        ? observabilityDecisions(observability)
        : config.langfuseUrl && config.langfusePublicKey && config.langfuseSecretKey
          ? configuredDecisions({
              tenants: new Set(config.langfuseTenants),
              jurisdiction: jurisdictions.normalize(
                config.langfuseJurisdiction ?? '',
                'AION_ORCHESTRATOR_LANGFUSE_JURISDICTION',
              ),
              jurisdictions,
              target: {
                url: config.langfuseUrl,
                publicKey: config.langfusePublicKey,
                secretKey: config.langfuseSecretKey,
              },
            })
          : undefined;
      if (decideLlmTrace)
        traceLlmTasks(repository, {
          engines,
          decide: decideLlmTrace,
          exporterFor: (target) => exporters.for(target),
          logger,
        });
      const tasks = new TaskService({
        repository,
        budgets,
        executor: new MeteredExecutor(
          new EngineDispatcher(new ModuleEngineExecutor(modules), new OpenAiCompatibleExecutor()),
          taskMetrics,
        ),
        residency,
        jurisdictions,
        engines,
        policies,
        latency,
        breakers,
        logger,
        taskTimeoutMs: config.taskTimeoutMs,
      });
      const audit = new AuditTrail(db, box!.writer);
      let reaper: NodeJS.Timeout | undefined;
      const deadLetterStore = new PostgresDeadLetters(db, box!.writer);
      const deadLetters = new DeadLetterService(deadLetterStore, tasks, audit);
      const governance = new GovernanceService(new PostgresGovernance(db), audit);
      const auditLogStore = new PostgresAuditLog(db);
      logger.info('engines loaded', {
        engines: engines.map((e) => `${e.name} (${e.kind}, ${e.tier}, ${e.intents.join('/')})`),
      });
      return {
        registerGrpc: (server) => {
          registerOrchestratorApi(server, {
            engines,
            tasks,
            budgets,
            breakers,
            jurisdictions,
            audit,
            deadLetters,
            auditLog: new AuditLogService(auditLogStore),
            stats: new StatsService(new PostgresStats(db)),
            platformTenant: config.platformTenant,
            receipts: new ReceiptService(repository, {
              sign: async (receiptJson) =>
                (await sovereign.signReceipt({ receiptJson }, { deadlineMs: 5_000 })).jws,
            }),
          });
          registerGovernanceApi(server, governance);
        },
        workers: [
          // First to start, last to stop (workers stop in reverse): the lease lapses only after
          // the running tasks finished or were given up.
          { name: 'replica-lease', start: () => lease.start(), stop: () => lease.stop() },
          {
            name: 'breaker-sync',
            // Starts from the state the other replicas left; a table it cannot read yet is
            // retried every interval rather than stopping the service.
            start: async () => {
              await breakers.sync().catch((err: unknown) =>
                logger.warn('could not read the shared circuit breakers; retrying', {
                  reason: err instanceof Error ? err.message : String(err),
                }),
              );
              stopBreakerSync = breakers.syncEvery(config.breakerSyncMs);
            },
            stop: async () => stopBreakerSync?.(),
          },
          // A revoked model stops being routed as soon as its event arrives.
          ...(engineHealth ? [engineHealth] : []),
          ...(decideLlmTrace
            ? [
                {
                  name: 'langfuse',
                  start: () => exporters.start(),
                  stop: () => exporters.stop(),
                },
              ]
            : []),
          tenantChangesWorker({
            name: 'sovereign-changes',
            bus: infrastructure.bus!,
            ...SOVEREIGN_CHANGES,
            groupPrefix: config.sovereignGroupPrefix,
            onChange: (tenantId) => residency.invalidate(tenantId),
            logger,
          }),
          deadLetterRecorderWorker({
            bus: infrastructure.bus!,
            store: deadLetterStore,
            logger,
            groupId: config.deadLetterGroup,
          }),
          // The durable audit trail and usage ledger (GET /api/v1/audit, /api/v1/usage).
          auditRecorderWorker({
            bus: infrastructure.bus!,
            store: auditLogStore,
            logger,
            groupId: config.auditGroup,
          }),
          {
            name: 'stale-task-reaper',
            start: () => {
              reaper = setInterval(() => {
                void tasks
                  .recoverStale({ queuedForMs: config.staleTaskAfterMs })
                  .catch((err: unknown) =>
                    logger.warn('stale-task recovery failed; retrying next round', {
                      reason: err instanceof Error ? err.message : String(err),
                    }),
                  );
              }, config.reaperIntervalMs);
              reaper.unref();
            },
            stop: async () => clearInterval(reaper),
          },
          {
            name: 'running-tasks',
            start: () => undefined,
            // Tasks already running finish (or time out) before the adapters close.
            stop: async () => {
              const deadline = Date.now() + config.shutdownTimeoutMs / 2;
              while (tasks.inFlight > 0 && Date.now() < deadline)
                await new Promise((r) => setTimeout(r, 50));
              for (const pool of poolClients) pool.client.close();
              sovereign.close();
              observability?.close();
            },
          },
        ],
      };
    },
  });
}
