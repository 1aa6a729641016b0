import { SovereignService } from '@aion/contracts';
import { AionError } from '@aion/errors';
import type { AuditTrail } from '@aion/events';
import { requireTenant } from '@aion/tenancy';
import { nextPageToken, pageWindow, type GrpcServer, type ServiceImpl } from '@aion/grpc';
import type { JsonObject } from '@bufbuild/protobuf';
import type { ComplianceCatalog, ComplianceMap, ComplianceOverrides } from '../core/compliance';
import type { ComplianceData } from '../core/compliance-data';
import type { DeploymentService } from '../core/deployment-service';
import {
  ACTIONS,
  DATA_CLASSES,
  DEPLOYMENT_STATUSES,
  MODEL_STATUSES,
  STRATEGIES,
  TIERS,
  type Page,
  type ResidencyRuleInput,
  type RoutingPolicyInput,
} from '../core/model';
import type { PolicyService } from '../core/policy-service';
import type { ReceiptKeyring } from '../core/receipt-keys';
import type { RegistryService } from '../core/registry-service';
import type { ResidencyService } from '../core/residency-service';
import { deploymentProto, fromEnum, modelProto, policyProto, ruleProto } from '../proto';

/** Mutations recorded on audit.activity: action and the affected resource's id. */
const AUDITED: Partial<
  Record<keyof typeof SovereignService.method, (req: Loose, res: Loose) => [string, string]>
> = {
  createResidencyRule: (_q, r) => ['residency_rule.created', r.rule?.id],
  updateResidencyRule: (_q, r) => ['residency_rule.updated', r.rule?.id],
  deleteResidencyRule: (q) => ['residency_rule.deleted', q.id],
  createRoutingPolicy: (_q, r) => ['routing_policy.created', r.policy?.id],
  updateRoutingPolicy: (_q, r) => ['routing_policy.updated', r.policy?.id],
  deleteRoutingPolicy: (q) => ['routing_policy.deleted', q.id],
  deployRegional: (_q, r) => ['deployment.requested', r.deployment?.id],
  updateDeploymentStatus: (q) => ['deployment.status_changed', q.id],
  putCompliance: (q) => ['compliance.overridden', q.compliance?.jurisdiction],
  registerModel: (_q, r) => ['model.registered', r.model?.id],
  approveModel: (q) => ['model.approved', q.id],
  rejectModel: (q) => ['model.rejected', q.id],
  revokeModel: (q) => ['model.revoked', q.id],
  rotateReceiptKey: (_q, r) => ['receipt_key.rotated', r.kid],
};

// Requests and responses of different RPCs read uniformly by the audit wrapper.
type Loose = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- one wrapper for every RPC's messages

/**
 * Refusals recorded as `denied`: the principal may not, or the state forbids it (the two-person
 * rule, another tenant's object in the cluster, an illegal transition). Malformed requests and
 * unknown ids are not recorded.
 */
const DENIED = /^(auth|state|sovereign)\./;

/** Mutations of platform-wide rows (no tenant's transaction to join): recorded after them. */
const PLATFORM_WIDE = new Set<string>(['rotateReceiptKey']);

/**
 * Records every mutation on audit.activity: a success in the transaction that makes the change
 * (both commit or neither), a refusal as `denied` with the error on its own (the refusal is
 * still what the caller gets).
 */
function withAudit<H extends Record<string, unknown>>(
  handlers: H,
  audit: Pick<AuditTrail, 'record' | 'recordChange'>,
): H {
  const wrapped: Record<string, unknown> = { ...handlers };
  for (const [name, describe] of Object.entries(AUDITED)) {
    const handler = handlers[name] as (req: Loose, ctx: Loose) => Promise<Loose>;
    wrapped[name] = async (req: Loose, ctx: Loose) => {
      const reason = req.reason ? { reason: req.reason } : {};
      const entry = (res: Loose) => {
        const [action, id] = describe(req, res);
        return { action, resourceId: String(id ?? ''), details: reason };
      };
      try {
        if (PLATFORM_WIDE.has(name)) {
          const res = await handler(req, ctx);
          const { action, resourceId, details } = entry(res);
          await audit.record(action, resourceId, details);
          return res;
        }
        return await audit.recordChange(() => handler(req, ctx), entry);
      } catch (err) {
        if (err instanceof AionError && DENIED.test(err.code)) {
          const { action, resourceId } = entry({});
          await audit.record(
            action,
            resourceId,
            { ...reason, error_code: err.code, error: err.message },
            'denied',
          );
        }
        throw err;
      }
    };
  }
  return wrapped as H;
}

export interface SovereignApi {
  residency: ResidencyService;
  policies: PolicyService;
  deployments: DeploymentService;
  registry: RegistryService;
  compliance: ComplianceCatalog;
  overrides: ComplianceOverrides;
  receipts: ReceiptKeyring;
  /** Operator and admin actions on audit.activity (the domain events carry them as well). */
  audit: Pick<AuditTrail, 'record' | 'recordChange'>;
}

const required = (value: string, field: string) => {
  if (!value)
    throw AionError.validation(`${field} is required`, [{ field, message: 'is required' }]);
  return value;
};

function enumValue<T extends string>(values: readonly T[], n: number, field: string): T {
  const value = fromEnum(values, n);
  if (!value)
    throw AionError.validation(`${field} is required: one of ${values.join(', ')}`, [
      { field, message: `one of ${values.join(', ')}` },
    ]);
  return value;
}

const paged = <T, P>(window: { offset: number }, page: Page<T>, map: (t: T) => P) => ({
  items: page.items.map(map),
  page: {
    nextPageToken: nextPageToken(window.offset, page.items.length, page.total),
    totalSize: BigInt(page.total),
  },
});

type RuleMessage = {
  dataJurisdiction: string;
  tier: number;
  action: number;
  targetJurisdictions: string[];
  priority: number;
  description: string;
};
const ruleInput = (rule: RuleMessage | undefined): ResidencyRuleInput => {
  if (!rule)
    throw AionError.validation('rule is required', [{ field: 'rule', message: 'is required' }]);
  return {
    dataJurisdiction: required(rule.dataJurisdiction, 'data_jurisdiction'),
    tier: enumValue(TIERS, rule.tier, 'tier'),
    action: enumValue(ACTIONS, rule.action, 'action'),
    targetJurisdictions: rule.targetJurisdictions,
    priority: rule.priority,
    description: rule.description,
  };
};

type PolicyMessage = {
  name: string;
  strategy: number;
  primaryJurisdiction: string;
  secondaryJurisdictions: string[];
};
const policyInput = (p: PolicyMessage | undefined): RoutingPolicyInput => {
  if (!p)
    throw AionError.validation('policy is required', [{ field: 'policy', message: 'is required' }]);
  return {
    name: p.name,
    strategy: enumValue(STRATEGIES, p.strategy, 'strategy'),
    primaryJurisdiction: required(p.primaryJurisdiction, 'primary_jurisdiction'),
    secondaryJurisdictions: p.secondaryJurisdictions,
  };
};

const dataContext = (
  api: SovereignApi,
  d: { jurisdiction: string; classification: number } | undefined,
) =>
  api.residency.normalizeData({
    jurisdiction: d?.jurisdiction ?? '',
    classification: fromEnum(DATA_CLASSES, d?.classification ?? 0) ?? 'none',
  });

export const complianceProto = (m: ComplianceMap) => ({
  jurisdiction: m.jurisdiction,
  regulations: m.regulations.map((r) => ({
    name: r.name,
    sources: r.sources,
    requirements: {
      localizationRequired: r.localization_required,
      transferMechanisms: r.transfer_mechanisms,
      encryptionAtRest: r.encryption_at_rest,
      encryptionInTransit: r.encryption_in_transit,
      retentionDays: r.retention_days,
    },
  })),
  deploymentConfig: m.deploymentConfig as JsonObject,
  adequateJurisdictions: m.adequateJurisdictions,
});

/** aion.v1.SovereignService: parse, check, call, map back. */
export function registerSovereignApi(server: GrpcServer, api: SovereignApi): void {
  const handlers: ServiceImpl<typeof SovereignService.method> = {
    enforceResidency: async (req) => {
      const e = await api.residency.enforce(
        dataContext(api, req.dataContext),
        req.candidateJurisdictions,
        req.taskId,
      );
      return {
        allowed: e.allowed,
        allowedJurisdictions: e.allowedJurisdictions,
        decidedByRule: e.verdict.ruleId,
        reason: e.verdict.reason,
        allowedModels: e.approvedModels.map(modelProto),
        deniedJurisdictions: [...e.verdict.deniedCodes],
        unrestricted: e.verdict.unrestricted,
        action: e.verdict.action,
        blockedModels: e.blockedModels.map(modelProto),
        modelApprovalRequired: api.residency.settings.requireModelApproval,
      };
    },
    getResidencyStatus: async () => {
      const s = await api.residency.status();
      return {
        ruleCount: s.ruleCount,
        maxRules: s.maxRules,
        defaultJurisdiction: s.defaultJurisdiction,
        violationsLast24h: BigInt(s.violations),
        decisionsLast24h: BigInt(s.decisions),
      };
    },
    createResidencyRule: async (req) => ({
      rule: ruleProto(await api.residency.create(ruleInput(req.rule))),
    }),
    getResidencyRule: async (req) => ({
      rule: ruleProto(await api.residency.get(required(req.id, 'id'))),
    }),
    listResidencyRules: async (req) => {
      const window = pageWindow(req.page);
      const { items, page } = paged(window, await api.residency.list(window), ruleProto);
      return { rules: items, page };
    },
    updateResidencyRule: async (req) => ({
      rule: ruleProto(
        await api.residency.update(required(req.rule?.id ?? '', 'rule.id'), ruleInput(req.rule)),
      ),
    }),
    deleteResidencyRule: async (req) => {
      await api.residency.remove(required(req.id, 'id'));
      return {};
    },
    route: async (req) => {
      const out = await api.deployments.route(
        dataContext(api, req.dataContext),
        req.modelId,
        req.routingPolicyId,
        req.taskId,
      );
      return {
        deployment: deploymentProto(out.deployment),
        decidedByRule: out.ruleId,
        reason: out.reason,
        usedFallback: out.usedFallback,
      };
    },
    createRoutingPolicy: async (req) => ({
      policy: policyProto(await api.policies.create(policyInput(req.policy))),
    }),
    getRoutingPolicy: async (req) => ({
      policy: policyProto(await api.policies.get(required(req.id, 'id'))),
    }),
    listRoutingPolicies: async (req) => {
      const window = pageWindow(req.page);
      const { items, page } = paged(window, await api.policies.list(window), policyProto);
      return { policies: items, page };
    },
    updateRoutingPolicy: async (req) => ({
      policy: policyProto(
        await api.policies.update(
          required(req.policy?.id ?? '', 'policy.id'),
          policyInput(req.policy),
        ),
      ),
    }),
    deleteRoutingPolicy: async (req) => {
      await api.policies.remove(required(req.id, 'id'));
      return {};
    },
    deployRegional: async (req) => {
      const out = await api.deployments.deploy({
        jurisdiction: required(req.jurisdiction, 'jurisdiction'),
        region: required(req.region, 'region'),
        modelId: required(req.modelId, 'model_id'),
        modelVersion: req.modelVersion,
        image: required(req.image, 'image'),
        replicas: req.replicas || 1,
      });
      return { deployment: deploymentProto(out.deployment), manifests: out.manifests };
    },
    getRegionalDeployment: async (req) => {
      const d = await api.deployments.get(required(req.id, 'id'));
      return { deployment: deploymentProto(d), manifests: api.deployments.manifestsOf(d) };
    },
    listRegionalDeployments: async (req) => {
      const window = pageWindow(req.page);
      const { items, page } = paged(
        window,
        await api.deployments.list(window, req.jurisdiction || undefined),
        deploymentProto,
      );
      return { deployments: items, page };
    },
    updateDeploymentStatus: async (req) => ({
      deployment: deploymentProto(
        await api.deployments.updateStatus(
          required(req.id, 'id'),
          enumValue(DEPLOYMENT_STATUSES, req.status, 'status'),
          req.reason.slice(0, 2000),
        ),
      ),
    }),
    getCompliance: async (req) => {
      const jurisdiction = api.residency.normalizeData({
        jurisdiction: required(req.jurisdiction, 'jurisdiction'),
        classification: 'none',
      }).jurisdiction;
      const { map, fromCache } = await api.compliance.get(
        requireTenant().tenantId,
        jurisdiction,
        api.overrides,
      );
      return { compliance: complianceProto(map), fromCache };
    },
    putCompliance: async (req) => {
      const c = req.compliance;
      if (!c) throw AionError.validation('compliance is required');
      const jurisdiction = api.residency.normalizeData({
        jurisdiction: required(c.jurisdiction, 'compliance.jurisdiction'),
        classification: 'none',
      }).jurisdiction;
      const data: ComplianceData = {
        regulations: c.regulations.map((r, i) => ({
          name: required(r.name, `compliance.regulations[${i}].name`).slice(0, 200),
          localization_required: r.requirements?.localizationRequired ?? false,
          transfer_mechanisms: r.requirements?.transferMechanisms ?? [],
          encryption_at_rest: r.requirements?.encryptionAtRest ?? false,
          encryption_in_transit: r.requirements?.encryptionInTransit ?? false,
          retention_days: Math.max(0, r.requirements?.retentionDays ?? 0),
          sources: r.sources,
        })),
        adequate_jurisdictions: c.adequateJurisdictions.map(
          (a) =>
            api.residency.normalizeData({ jurisdiction: a, classification: 'none' }).jurisdiction,
        ),
      };
      const map = await api.compliance.put(
        requireTenant().tenantId,
        jurisdiction,
        data,
        api.overrides,
      );
      return { compliance: complianceProto(map) };
    },
    registerModel: async (req) => ({
      model: modelProto(
        await api.registry.register({
          modelRef: req.modelRef,
          name: req.name,
          version: req.version,
          jurisdiction: required(req.jurisdiction, 'jurisdiction'),
        }),
      ),
    }),
    getModel: async (req) => ({
      model: modelProto(await api.registry.get(required(req.id, 'id'))),
    }),
    listModels: async (req) => {
      const window = pageWindow(req.page);
      const status = req.status ? enumValue(MODEL_STATUSES, req.status, 'status') : undefined;
      const { items, page } = paged(
        window,
        await api.registry.list(window, {
          ...(req.jurisdiction ? { jurisdiction: req.jurisdiction } : {}),
          ...(status ? { status } : {}),
        }),
        modelProto,
      );
      return { models: items, page };
    },
    approveModel: async (req) => ({
      model: modelProto(await api.registry.decide(required(req.id, 'id'), 'APPROVED', req.reason)),
    }),
    rejectModel: async (req) => ({
      model: modelProto(await api.registry.decide(required(req.id, 'id'), 'REJECTED', req.reason)),
    }),
    revokeModel: async (req) => ({
      model: modelProto(await api.registry.decide(required(req.id, 'id'), 'REVOKED', req.reason)),
    }),
    signReceipt: async (req, ctx) => {
      // Only the orchestrator issues receipts: anything else could get arbitrary JSON signed.
      if (ctx.principal?.caller !== 'orchestrator')
        throw new AionError('auth.forbidden', 'receipts are signed for the orchestrator only');
      let parsed: unknown;
      try {
        parsed = JSON.parse(required(req.receiptJson, 'receipt_json'));
      } catch {
        throw AionError.validation('receipt_json is not JSON');
      }
      if (
        typeof parsed !== 'object' ||
        parsed === null ||
        (parsed as { tenant_id?: unknown }).tenant_id !== requireTenant().tenantId
      )
        throw AionError.validation('the receipt must be for the calling tenant');
      return api.receipts.sign(req.receiptJson);
    },
    getReceiptKeys: async () => ({ jwksJson: JSON.stringify(await api.receipts.jwks()) }),
    rotateReceiptKey: async () => ({ kid: await api.receipts.rotate() }),
  };
  server.add(SovereignService, withAudit(handlers, api.audit), {
    enforceResidency: 'platform:read',
    getResidencyStatus: 'platform:read',
    createResidencyRule: 'sovereign:manage',
    getResidencyRule: 'platform:read',
    listResidencyRules: 'platform:read',
    updateResidencyRule: 'sovereign:manage',
    deleteResidencyRule: 'sovereign:manage',
    route: 'platform:read',
    createRoutingPolicy: 'sovereign:manage',
    getRoutingPolicy: 'platform:read',
    listRoutingPolicies: 'platform:read',
    updateRoutingPolicy: 'sovereign:manage',
    deleteRoutingPolicy: 'sovereign:manage',
    deployRegional: 'sovereign:manage',
    getRegionalDeployment: 'platform:read',
    listRegionalDeployments: 'platform:read',
    updateDeploymentStatus: 'sovereign:manage',
    getCompliance: 'platform:read',
    putCompliance: 'sovereign:manage',
    registerModel: 'models:register',
    getModel: 'platform:read',
    listModels: 'platform:read',
    approveModel: 'models:approve',
    rejectModel: 'models:approve',
    revokeModel: 'models:approve',
    signReceipt: 'tasks:read',
    getReceiptKeys: 'public',
    rotateReceiptKey: 'auth:manage',
  });
}
