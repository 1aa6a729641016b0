import { hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AuditTrail, SOVEREIGN_CHANGES } from '@aion/events';
import { JurisdictionRegistry } from '@aion/jurisdictions';
import {
  defineService,
  tenantChangesWorker,
  resolveMigrationsFolder,
  type EmbeddedShared,
  type ServiceLifecycle,
} from '@aion/runtime';
import { violationRecorderWorker } from './adapters/bus/violation-recorder';
import { PostgresDeployments, PostgresPolicies } from './adapters/db/deployment-repository';
import { PostgresModels } from './adapters/db/registry-repository';
import { PostgresDecisionLog, PostgresRules } from './adapters/db/residency-repository';
import { outbox } from './adapters/db/schema';
import {
  OutboxRoutingLog,
  PostgresComplianceOverrides,
  PostgresReceiptKeys,
} from './adapters/db/stores';
import { AppliedCluster, kubeConfigFrom } from './adapters/k8s/applied-cluster';
import { RenderedCluster } from './adapters/k8s/render-cluster';
import { complianceProto, registerSovereignApi } from './api/grpc-handlers';
import { sovereignAiInfraNeeds, type SovereignAiConfig } from './config';
import { ComplianceCatalog, deploymentConfigOf } from './core/compliance';
import { STARTER_COMPLIANCE, type ComplianceData } from './core/compliance-data';
import { DeploymentService } from './core/deployment-service';
import type { ClusterPort } from './core/deployments';
import { PolicyService } from './core/policy-service';
import { ReceiptKeyring } from './core/receipt-keys';
import { RegistryService } from './core/registry-service';
import { ResidencyService } from './core/residency-service';

const DAY_MS = 86_400_000;

const regulationSchema = z
  .object({
    name: z.string().min(1).max(200),
    localization_required: z.boolean(),
    transfer_mechanisms: z.array(z.string().max(500)).max(50),
    encryption_at_rest: z.boolean(),
    encryption_in_transit: z.boolean(),
    retention_days: z.number().int().min(0),
    sources: z.array(z.string().max(1000)).max(50),
  })
  .strict();
const complianceFileSchema = z.record(
  z.string(),
  z
    .object({
      regulations: z.array(regulationSchema),
      adequate_jurisdictions: z.array(z.string()),
    })
    .strict(),
);

/** The starter map with the operator's file (if any) replacing the jurisdictions it names. */
function platformCompliance(
  file: string | undefined,
  jurisdictions: JurisdictionRegistry,
): Record<string, ComplianceData> {
  if (!file) return { ...STARTER_COMPLIANCE };
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the compliance file ${file}: ${(err as Error).message}`);
  }
  const result = complianceFileSchema.safeParse(parsed);
  if (!result.success)
    throw new Error(
      `compliance file ${file} is invalid: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const own: Record<string, ComplianceData> = {};
  for (const [code, data] of Object.entries(result.data)) {
    const normalized = jurisdictions.normalize(code, `compliance.${code}`);
    own[normalized] = {
      regulations: data.regulations,
      adequate_jurisdictions: data.adequate_jurisdictions.map((a) =>
        jurisdictions.normalize(a, `compliance.${code}.adequate_jurisdictions`),
      ),
    };
  }
  return { ...STARTER_COMPLIANCE, ...own };
}

/**
 * Composition root of the sovereign-ai service (residency rules, jurisdiction routing, compliance
 * maps, model registry, regional deployments, receipt signing).
 * Tests, the embedded launcher and main.ts all start it through here.
 */
export function createSovereignAiService(
  config: SovereignAiConfig,
  embedded?: { shared: EmbeddedShared; internalTokenSecret: string },
): ServiceLifecycle {
  return defineService({
    service: 'sovereign-ai',
    config,
    needs: {
      database: { migrationsFolder: resolveMigrationsFolder(__dirname) },
      bus: sovereignAiInfraNeeds.kafka,
      // Nothing here uses Redis: opening it would only make its outages this service's.
      redis: false,
    },
    outbox,
    ...(embedded ? { embedded } : {}),
    wire: async ({ infrastructure, outbox: box, logger }) => {
      const jurisdictions = JurisdictionRegistry.fromFile(config.regionsFile);
      const defaultJurisdiction = jurisdictions.normalize(
        config.defaultJurisdiction,
        'AION_SOVEREIGN_DEFAULT_JURISDICTION',
      );
      const db = infrastructure.database!.db;
      const writer = box!.writer;
      const models = new PostgresModels(db, writer);
      const decisions = new PostgresDecisionLog(db, writer);
      const residency = new ResidencyService(
        new PostgresRules(db, writer),
        models,
        decisions,
        jurisdictions,
        {
          defaultJurisdiction,
          maxRulesPerTenant: config.maxRulesPerTenant,
          cacheTtlMs: config.ruleCacheSeconds * 1000,
          requireModelApproval: config.requireModelApproval,
        },
      );
      const policyStore = new PostgresPolicies(db);
      const mode = config.k8sMode ?? (config.mode === 'embedded' ? 'render' : 'apply');
      const cluster: ClusterPort =
        mode === 'render'
          ? new RenderedCluster(path.resolve(config.manifestsDir))
          : new AppliedCluster(
              kubeConfigFrom(
                config.kubeconfig
                  ? { kind: 'kubeconfig', path: config.kubeconfig }
                  : process.env['KUBERNETES_SERVICE_HOST']
                    ? { kind: 'in-cluster' }
                    : { kind: 'kubeconfig' },
              ),
            );
      const deployments = new DeploymentService(
        new PostgresDeployments(db, writer),
        models,
        policyStore,
        residency,
        new OutboxRoutingLog(db, writer),
        cluster,
        jurisdictions,
        {
          namespacePrefix: config.k8sNamespacePrefix,
          rolloutTimeoutMs: config.rolloutTimeoutSeconds * 1000,
          rolloutPollMs: 2_000,
        },
        logger,
      );
      const secret = embedded?.internalTokenSecret ?? config.internalTokenSecret ?? '';
      const passphrase =
        config.receiptKeyPassphrase ??
        Buffer.from(hkdfSync('sha256', secret, 'aion-sovereign', 'receipt-keys', 32)).toString(
          'base64url',
        );
      const receipts = new ReceiptKeyring(new PostgresReceiptKeys(db), {
        passphrase,
        rotateAfterMs: config.receiptKeyRotationDays * DAY_MS,
        retainMs: config.receiptKeyRetentionDays * DAY_MS,
        refreshMs: 60_000,
      });
      // Before anything is served: a verifier that fetches the keys first must find the key that
      // will sign (replicas starting together agree on one, see ReceiptKeyring.succeed).
      const receiptKid = await receipts.ensureSigningKey();
      const bus = infrastructure.bus!;
      logger.info('sovereign-ai ready', {
        receipt_kid: receiptKid,
        default_jurisdiction: defaultJurisdiction,
        k8s_mode: mode,
        model_approval_two_person: config.modelApprovalTwoPerson,
        max_rules_per_tenant: config.maxRulesPerTenant,
      });
      return {
        registerGrpc: (server) =>
          registerSovereignApi(server, {
            residency,
            policies: new PolicyService(policyStore, jurisdictions),
            deployments,
            registry: new RegistryService(models, jurisdictions, (t) => residency.invalidate(t), {
              twoPersonApproval: config.modelApprovalTwoPerson,
            }),
            compliance: new ComplianceCatalog(
              platformCompliance(config.complianceFile, jurisdictions),
              jurisdictions,
              config.complianceCacheTtlSeconds * 1000,
            ),
            overrides: new PostgresComplianceOverrides(db, writer, (jurisdiction, data) =>
              complianceProto({
                jurisdiction,
                regulations: data.regulations,
                adequateJurisdictions: data.adequate_jurisdictions,
                deploymentConfig: deploymentConfigOf(jurisdiction, data),
                source: 'tenant',
              }),
            ),
            receipts,
            audit: new AuditTrail(db, writer),
          }),
        workers: [
          // A change made on another replica takes effect here within the bus's delivery time.
          tenantChangesWorker({
            name: 'sovereign-cache-invalidation',
            bus,
            ...SOVEREIGN_CHANGES,
            groupPrefix: config.cacheGroupPrefix,
            onChange: (t) => residency.invalidate(t),
            logger,
          }),
          violationRecorderWorker({
            bus,
            decisions,
            groupId: `${config.cacheGroupPrefix}-violations`,
            logger,
          }),
          { name: 'rollout-watches', start: () => undefined, stop: () => deployments.drain() },
        ],
      };
    },
  });
}
