import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { SovereignService } from '@aion/contracts';
import { createGrpcClient } from '@aion/grpc';
import { JurisdictionRegistry } from '@aion/jurisdictions';
import { requireTenant, runWithTenant } from '@aion/tenancy';
import {
  defineService,
  resolveMigrationsFolder,
  type EmbeddedShared,
  type ServiceLifecycle,
} from '@aion/runtime';
import { AlertmanagerClient } from './adapters/alertmanager/alertmanager-client';
import { PostgresAlerts } from './adapters/db/alert-repository';
import { PostgresAlertRules } from './adapters/db/alert-rule-repository';
import { outbox } from './adapters/db/schema';
import { PostgresSlos } from './adapters/db/slo-repository';
import { LokiClient } from './adapters/loki/loki-client';
import { PrometheusClient } from './adapters/prometheus/prometheus-client';
import { PrometheusRuleObjects } from './adapters/k8s/prometheus-rule-objects';
import { PrometheusRuleFiles } from './adapters/prometheus/rule-files';
import { mountAlertmanagerWebhook } from './api/alertmanager-webhook';
import { registerObservabilityApi } from './api/grpc-handlers';
import { observabilityInfraNeeds, type ObservabilityConfig } from './config';
import { AlertRuleService } from './core/alert-rules';
import { AlertService } from './core/alerts';
import { platformDashboards } from './core/dashboards';
import { EngineHealthService } from './core/engine-health';
import { SloEvaluator } from './core/slo-evaluations';
import { DashboardService } from './core/tenant-dashboards';
import { PostgresDashboards } from './adapters/db/dashboard-repository';
import { PostgresLlmTracing } from './adapters/db/llm-tracing-repository';
import { SovereignResidency } from './adapters/sovereign/sovereign-residency';
import { LlmTracingService } from './core/llm-tracing-service';
import { SecretFiles } from './adapters/secrets/secret-files';
import { PostgresSloEvaluations } from './adapters/db/slo-evaluation-repository';
import { LogsQueryService } from './core/logs';
import { MetricsQueryService } from './core/metrics-query';
import { RuleSync } from './core/rule-sync';
import { SloService } from './core/slo-service';

/** In a pod: its service account; elsewhere: KUBECONFIG or ~/.kube/config. */
function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  if (process.env['KUBERNETES_SERVICE_HOST']) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

/** The promtool to check rule files with, if it runs here. */
async function promtoolAt(path: string): Promise<string | undefined> {
  if (!path) return undefined;
  try {
    await promisify(execFile)(path, ['--version'], { timeout: 10_000 });
    return path;
  } catch {
    return undefined;
  }
}

/**
 * Composition root of the observability service (SLOs, burn-rate alerts, dashboards).
 * Tests, the embedded launcher and main.ts all start it through here.
 */
export function createObservabilityService(
  config: ObservabilityConfig,
  embedded?: { shared: EmbeddedShared; internalTokenSecret: string },
): ServiceLifecycle {
  return defineService({
    service: 'observability',
    config,
    needs: {
      database: { migrationsFolder: resolveMigrationsFolder(__dirname) },
      bus: observabilityInfraNeeds.kafka,
      redis: false,
    },
    outbox,
    ...(embedded ? { embedded } : {}),
    wire: async ({
      infrastructure,
      outbox: box,
      logger,
      tokens,
      grpcCredentials,
      coLocated,
      metrics,
    }) => {
      const db = infrastructure.database!.db;
      const sloStore = new PostgresSlos(db, box!.writer);
      const ruleStore = new PostgresAlertRules(db, box!.writer);
      if (config.rulesDir && config.rulesNamespace)
        throw new Error(
          'AION_OBSERVABILITY_RULES_DIR and AION_OBSERVABILITY_RULES_NAMESPACE: set one, not both',
        );
      const promtool = config.rulesDir ? await promtoolAt(config.promtool) : undefined;
      if (config.rulesDir && !promtool)
        logger.warn('promtool not found: rule files are loaded by Prometheus unchecked', {
          promtool: config.promtool,
        });
      const sink = config.rulesNamespace
        ? new PrometheusRuleObjects(
            kubeConfig(),
            config.rulesNamespace,
            Object.fromEntries(
              config.rulesLabels
                .split(',')
                .filter(Boolean)
                .map((kv) => kv.split('=') as [string, string]),
            ),
          )
        : config.rulesDir
          ? new PrometheusRuleFiles(
              config.rulesDir,
              config.prometheusUrl,
              config.upstreamTimeoutMs,
              promtool,
            )
          : undefined;
      const sync = sink
        ? new RuleSync(
            {
              slos: (w) => sloStore.page(w),
              alertRules: (w) => ruleStore.page(w),
              markAlertRules: (status, error) => ruleStore.markSync(status, error),
            },
            sink,
          )
        : undefined;
      const changed = async () => sync?.syncTenant(requireTenant().tenantId);
      const prometheus = new PrometheusClient(config.prometheusUrl, config.upstreamTimeoutMs);
      const slos = new SloService(sloStore, changed, prometheus);
      const alerts = new AlertService(
        new PostgresAlerts(db, box!.writer),
        new AlertmanagerClient(config.alertmanagerUrl, config.upstreamTimeoutMs),
        (tenantId, fn) =>
          runWithTenant(
            { tenantId, subject: 'alertmanager', roles: [], requestId: randomUUID() },
            fn,
          ),
      );
      if (!config.webhookToken)
        logger.warn(
          'AION_OBSERVABILITY_WEBHOOK_TOKEN is unset: the Alertmanager webhook refuses every call',
        );
      logger.info('observability ready', {
        alertmanager: config.alertmanagerUrl,
        rules: config.rulesNamespace
          ? `PrometheusRule objects in ${config.rulesNamespace}`
          : (config.rulesDir ?? '(not synced)'),
      });
      const evaluations = new PostgresSloEvaluations(db);
      const evaluator = new SloEvaluator(
        evaluations,
        prometheus,
        config.sloEvaluationIntervalMs || 1,
        logger,
      );
      return {
        workers: [
          {
            name: 'slo-evaluator',
            start: () => {
              if (config.sloEvaluationIntervalMs > 0) evaluator.start();
            },
            stop: () => evaluator.stop(),
          },
        ],
        registerGrpc: (server) =>
          registerObservabilityApi(server, {
            slos,
            alerts,
            alertRules: new AlertRuleService(ruleStore, changed),
            metrics: new MetricsQueryService(prometheus),
            dashboards: new DashboardService(
              new PostgresDashboards(db, box!.writer),
              platformDashboards(),
            ),
            engineHealth: new EngineHealthService(prometheus),
            sloEvaluations: evaluations,
            logs: new LogsQueryService(new LokiClient(config.lokiUrl, config.upstreamTimeoutMs)),
            llmTracing: new LlmTracingService(
              new PostgresLlmTracing(db, box!.writer),
              new SecretFiles(config.secretsDir),
              new SovereignResidency(
                createGrpcClient(SovereignService, config.sovereignAddress, {
                  tokens,
                  credentials: grpcCredentials,
                  inProcess: coLocated,
                  metrics,
                  defaultDeadlineMs: config.upstreamTimeoutMs,
                }),
                config.upstreamTimeoutMs,
              ),
              JurisdictionRegistry.fromFile(config.regionsFile),
              logger,
            ),
          }),
        registerHttp: (app) =>
          mountAlertmanagerWebhook(app, { alerts, token: config.webhookToken, logger }),
      };
    },
  });
}
