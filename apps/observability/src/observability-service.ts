import { randomUUID } from 'node:crypto';
import { runWithTenant } from '@aion/tenancy';
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
import { mountAlertmanagerWebhook } from './api/alertmanager-webhook';
import { registerObservabilityApi } from './api/grpc-handlers';
import { observabilityInfraNeeds, type ObservabilityConfig } from './config';
import { AlertRuleService } from './core/alert-rules';
import { AlertService } from './core/alerts';
import { SloService } from './core/slo-service';

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
    wire: async ({ infrastructure, outbox: box, logger }) => {
      const db = infrastructure.database!.db;
      const slos = new SloService(new PostgresSlos(db, box!.writer));
      const alerts = new AlertService(
        new PostgresAlerts(db, box!.writer),
        new AlertmanagerClient(config.alertmanagerUrl, config.alertmanagerTimeoutMs),
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
      logger.info('observability ready', { alertmanager: config.alertmanagerUrl });
      return {
        registerGrpc: (server) =>
          registerObservabilityApi(server, {
            slos,
            alerts,
            alertRules: new AlertRuleService(new PostgresAlertRules(db, box!.writer)),
          }),
        registerHttp: (app) =>
          mountAlertmanagerWebhook(app, { alerts, token: config.webhookToken, logger }),
      };
    },
  });
}
