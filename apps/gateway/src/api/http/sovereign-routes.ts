import { Router } from 'express';
import { timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import {
  ClassificationTier,
  DataClassification,
  DeploymentStatus,
  ModelApprovalStatus,
  ResidencyAction,
  RoutingStrategy,
  type SovereignService,
} from '@aion/contracts';
import { requirePermission } from '@aion/auth';
import type { ClientOf } from '@aion/grpc';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import {
  ComplianceOverrideRequest,
  DeploymentStatusRequest,
  DeployRegionalRequest,
  EnforceRequest,
  IdParam,
  JurisdictionParam,
  ModelDecisionRequest,
  ModelListQuery,
  RegionListQuery,
  RegisterModelRequest,
  ResidencyRuleRequest,
  RouteRequest,
  RoutingPolicyRequest,
  SovereignListQuery,
} from './sovereign-schemas';
import { parse } from './validate';

type Client = ClientOf<typeof SovereignService>;
type Out<K extends keyof Client> = Awaited<ReturnType<Client[K]>>;

// Wire enums as the JSON API spells them: the generated enum's value name, e.g. 'PII' <-> 'pii'.
type WireEnum = Record<string, string | number>;
const name = (e: WireEnum, n: number, lower = true) => {
  const value = typeof e[n] === 'string' ? (e[n] as string) : 'UNSPECIFIED';
  return lower ? value.toLowerCase() : value;
};
const num = (e: WireEnum, value: string) => Number(e[value.toUpperCase()] ?? 0);
const iso = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString() : null);

const ruleJson = (r: Out<'getResidencyRule'>['rule']) =>
  r && {
    id: r.id,
    data_jurisdiction: r.dataJurisdiction,
    tier: name(ClassificationTier, r.tier),
    action: name(ResidencyAction, r.action),
    target_jurisdictions: r.targetJurisdictions,
    priority: r.priority,
    description: r.description,
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
  };
const policyJson = (p: Out<'getRoutingPolicy'>['policy']) =>
  p && {
    id: p.id,
    name: p.name,
    strategy: name(RoutingStrategy, p.strategy),
    primary_jurisdiction: p.primaryJurisdiction,
    secondary_jurisdictions: p.secondaryJurisdictions,
    created_at: iso(p.createdAt),
  };
const deploymentJson = (d: Out<'getRegionalDeployment'>['deployment']) =>
  d && {
    id: d.id,
    jurisdiction: d.jurisdiction,
    region: d.region,
    namespace: d.namespace,
    model_id: d.modelId,
    model_version: d.modelVersion,
    status: name(DeploymentStatus, d.status, false),
    endpoint: d.endpoint || null,
    mode: d.mode,
    created_at: iso(d.createdAt),
    updated_at: iso(d.updatedAt),
  };
const modelJson = (m: Out<'getModel'>['model']) =>
  m && {
    id: m.id,
    model_ref: m.modelRef,
    name: m.name,
    version: m.version,
    jurisdiction: m.jurisdiction,
    status: name(ModelApprovalStatus, m.status, false),
    decided_by: m.decidedBy || null,
    decision_reason: m.decisionReason || null,
    created_at: iso(m.createdAt),
    updated_at: iso(m.updatedAt),
  };
const complianceJson = (c: Out<'getCompliance'>['compliance']) =>
  c && {
    jurisdiction: c.jurisdiction,
    regulations: c.regulations.map((r) => ({
      name: r.name,
      localization_required: r.requirements?.localizationRequired ?? false,
      transfer_mechanisms: r.requirements?.transferMechanisms ?? [],
      encryption_at_rest: r.requirements?.encryptionAtRest ?? false,
      encryption_in_transit: r.requirements?.encryptionInTransit ?? false,
      retention_days: r.requirements?.retentionDays ?? 0,
      sources: r.sources,
    })),
    adequate_jurisdictions: c.adequateJurisdictions,
    deployment_config: c.deploymentConfig ?? {},
  };
const page = (p: { nextPageToken: string; totalSize: bigint } | undefined) => ({
  next_page_token: p?.nextPageToken || null,
  total: Number(p?.totalSize ?? 0),
});
const pageRequest = (q: { limit: number; page_token?: string | undefined }) => ({
  page: { pageSize: q.limit, pageToken: q.page_token ?? '' },
});
const dataContext = (d: { jurisdiction: string; classification: string }) => ({
  jurisdiction: d.jurisdiction,
  classification: num(DataClassification, d.classification),
});
const ruleMessage = (b: ReturnType<typeof ResidencyRuleRequest.parse>, id = '') => ({
  id,
  dataJurisdiction: b.data_jurisdiction,
  tier: num(ClassificationTier, b.tier),
  action: num(ResidencyAction, b.action),
  targetJurisdictions: b.target_jurisdictions,
  priority: b.priority,
  description: b.description,
});
const policyMessage = (b: ReturnType<typeof RoutingPolicyRequest.parse>, id = '') => ({
  id,
  name: b.name,
  strategy: num(RoutingStrategy, b.strategy),
  primaryJurisdiction: b.primary_jurisdiction,
  secondaryJurisdictions: b.secondary_jurisdictions,
});

/** The public JWKS of receipt signing keys; mounted before authentication. */
export function receiptKeysRoute(sovereign: Client, requestTimeoutMs: number): Router {
  const router = Router();
  router.get('/.well-known/aion-receipt-keys', async (_req, res) => {
    const { jwksJson } = await sovereign.getReceiptKeys({}, { deadlineMs: requestTimeoutMs });
    res.set('Cache-Control', 'public, max-age=300').type('application/jwk-set+json').send(jwksJson);
  });
  return router;
}

/** /api/v1/sovereign: residency, routing, regional deployments, compliance and the model registry. */
export function sovereignRoutes(
  sovereign: Client,
  jurisdictions: JurisdictionRegistry,
  requestTimeoutMs: number,
): Router {
  const router = Router();
  const o = { deadlineMs: requestTimeoutMs };
  const base = '/api/v1/sovereign';
  const read = requirePermission('sovereign:read');
  const manage = requirePermission('sovereign:manage');

  router.post(`${base}/residency/enforce`, read, async (req, res) => {
    const body = parse(EnforceRequest, req.body, 'enforcement request');
    const r = await sovereign.enforceResidency(
      {
        dataContext: dataContext(body.data_context),
        candidateJurisdictions: body.candidate_jurisdictions,
        taskId: body.task_id,
      },
      o,
    );
    res.json({
      allowed: r.allowed,
      allowed_jurisdictions: r.allowedJurisdictions,
      denied_jurisdictions: r.deniedJurisdictions,
      unrestricted: r.unrestricted,
      action: r.action,
      decided_by_rule: r.decidedByRule,
      reason: r.reason,
      approved_models: r.allowedModels.map(modelJson),
      blocked_models: r.blockedModels.map(modelJson),
    });
  });
  router.get(`${base}/residency/status`, read, async (_req, res) => {
    const s = await sovereign.getResidencyStatus({}, o);
    res.json({
      rule_count: s.ruleCount,
      max_rules: s.maxRules,
      default_jurisdiction: s.defaultJurisdiction,
      decisions_last_24h: Number(s.decisionsLast24h),
      violations_last_24h: Number(s.violationsLast24h),
    });
  });
  router.get(`${base}/residency/rules`, read, async (req, res) => {
    const q = parse(SovereignListQuery, req.query, 'query');
    const r = await sovereign.listResidencyRules(pageRequest(q), o);
    res.json({ data: r.rules.map(ruleJson), ...page(r.page) });
  });
  router.post(`${base}/residency/rules`, manage, async (req, res) => {
    const body = parse(ResidencyRuleRequest, req.body, 'residency rule');
    const { rule } = await sovereign.createResidencyRule({ rule: ruleMessage(body) }, o);
    res.status(201).location(`${base}/residency/rules/${rule?.id}`).json(ruleJson(rule));
  });
  router.get(`${base}/residency/rules/:id`, read, async (req, res) => {
    const { id } = parse(IdParam, req.params, 'path');
    res.json(ruleJson((await sovereign.getResidencyRule({ id }, o)).rule));
  });
  router.put(`${base}/residency/rules/:id`, manage, async (req, res) => {
    const { id } = parse(IdParam, req.params, 'path');
    const body = parse(ResidencyRuleRequest, req.body, 'residency rule');
    res.json(
      ruleJson((await sovereign.updateResidencyRule({ rule: ruleMessage(body, id) }, o)).rule),
    );
  });
  router.delete(`${base}/residency/rules/:id`, manage, async (req, res) => {
    const { id } = parse(IdParam, req.params, 'path');
    await sovereign.deleteResidencyRule({ id }, o);
    res.status(204).end();
  });

  router.get(`${base}/routing/policies`, read, async (req, res) => {
    const q = parse(SovereignListQuery, req.query, 'query');
    const r = await sovereign.listRoutingPolicies(pageRequest(q), o);
    res.json({ data: r.policies.map(policyJson), ...page(r.page) });
  });
  router.post(`${base}/routing/policies`, manage, async (req, res) => {
    const body = parse(RoutingPolicyRequest, req.body, 'routing policy');
    const { policy } = await sovereign.createRoutingPolicy({ policy: policyMessage(body) }, o);
    res.status(201).location(`${base}/routing/policies/${policy?.id}`).json(policyJson(policy));
  });
  router.get(`${base}/routing/policies/:id`, read, async (req, res) => {
    const { id } = parse(IdParam, req.params, 'path');
    res.json(policyJson((await sovereign.getRoutingPolicy({ id }, o)).policy));
  });
  router.put(`${base}/routing/policies/:id`, manage, async (req, res) => {
    const { id } = parse(IdParam, req.params, 'path');
    const body = parse(RoutingPolicyRequest, req.body, 'routing policy');
    res.json(
      policyJson(
        (await sovereign.updateRoutingPolicy({ policy: policyMessage(body, id) }, o)).policy,
      ),
    );
  });
  router.delete(`${base}/routing/policies/:id`, manage, async (req, res) => {
    const { id } = parse(IdParam, req.params, 'path');
    await sovereign.deleteRoutingPolicy({ id }, o);
    res.status(204).end();
  });
  router.post(`${base}/route`, read, async (req, res) => {
    const body = parse(RouteRequest, req.body, 'route request');
    const r = await sovereign.route(
      {
        dataContext: dataContext(body.data_context),
        modelId: body.model_id,
        routingPolicyId: body.routing_policy_id ?? '',
        taskId: body.task_id,
      },
      o,
    );
    res.json({
      deployment: deploymentJson(r.deployment),
      decided_by_rule: r.decidedByRule,
      reason: r.reason,
      used_fallback: r.usedFallback,
    });
  });

  router.post(`${base}/deploy/regional`, manage, async (req, res) => {
    const body = parse(DeployRegionalRequest, req.body, 'regional deployment');
    const r = await sovereign.deployRegional(
      {
        jurisdiction: body.jurisdiction,
        region: body.region,
        modelId: body.model_id,
        modelVersion: body.model_version,
        image: body.image,
        replicas: body.replicas,
      },
      o,
    );
    res
      .status(202)
      .location(`${base}/deployments/${r.deployment?.id}`)
      .json({ deployment: deploymentJson(r.deployment), manifests: r.manifests });
  });
  router.get(`${base}/regions`, read, async (req, res) => {
    const q = parse(RegionListQuery, req.query, 'query');
    const r = await sovereign.listRegionalDeployments(
      { ...pageRequest(q), jurisdiction: q.jurisdiction ?? '' },
      o,
    );
    res.json({
      region_codes: Object.fromEntries(
        jurisdictions
          .regionCodes()
          .map((code) => [code, [...jurisdictions.countriesOf(code)].sort()]),
      ),
      data: r.deployments.map(deploymentJson),
      ...page(r.page),
    });
  });
  router.get(`${base}/deployments/:id`, read, async (req, res) => {
    const { id } = parse(IdParam, req.params, 'path');
    const r = await sovereign.getRegionalDeployment({ id }, o);
    res.json({ deployment: deploymentJson(r.deployment), manifests: r.manifests });
  });
  router.post(`${base}/deployments/:id/status`, manage, async (req, res) => {
    const { id } = parse(IdParam, req.params, 'path');
    const body = parse(DeploymentStatusRequest, req.body, 'deployment status');
    const r = await sovereign.updateDeploymentStatus(
      { id, status: num(DeploymentStatus, body.status), reason: body.reason },
      o,
    );
    res.json(deploymentJson(r.deployment));
  });

  router.get(`${base}/compliance/:jurisdiction`, read, async (req, res) => {
    const { jurisdiction } = parse(JurisdictionParam, req.params, 'path');
    const r = await sovereign.getCompliance({ jurisdiction }, o);
    res.json({ ...complianceJson(r.compliance), from_cache: r.fromCache });
  });
  router.put(`${base}/compliance/:jurisdiction`, manage, async (req, res) => {
    const { jurisdiction } = parse(JurisdictionParam, req.params, 'path');
    const body = parse(ComplianceOverrideRequest, req.body, 'compliance map');
    const r = await sovereign.putCompliance(
      {
        compliance: {
          jurisdiction,
          adequateJurisdictions: body.adequate_jurisdictions,
          regulations: body.regulations.map((g) => ({
            name: g.name,
            sources: g.sources,
            requirements: {
              localizationRequired: g.localization_required,
              transferMechanisms: g.transfer_mechanisms,
              encryptionAtRest: g.encryption_at_rest,
              encryptionInTransit: g.encryption_in_transit,
              retentionDays: g.retention_days,
            },
          })),
        },
      },
      o,
    );
    res.json(complianceJson(r.compliance));
  });

  router.post(`${base}/registry/models`, requirePermission('models:register'), async (req, res) => {
    const body = parse(RegisterModelRequest, req.body, 'model');
    const { model } = await sovereign.registerModel(
      {
        modelRef: body.model_ref,
        name: body.name,
        version: body.version,
        jurisdiction: body.jurisdiction,
      },
      o,
    );
    res.status(201).location(`${base}/registry/models/${model?.id}`).json(modelJson(model));
  });
  router.get(`${base}/registry/models`, read, async (req, res) => {
    const q = parse(ModelListQuery, req.query, 'query');
    const r = await sovereign.listModels(
      {
        ...pageRequest(q),
        jurisdiction: q.jurisdiction ?? '',
        status: q.status ? num(ModelApprovalStatus, q.status) : 0,
      },
      o,
    );
    res.json({ data: r.models.map(modelJson), ...page(r.page) });
  });
  router.get(`${base}/registry/models/:id`, read, async (req, res) => {
    const { id } = parse(IdParam, req.params, 'path');
    res.json(modelJson((await sovereign.getModel({ id }, o)).model));
  });
  const decisions = {
    approve: 'approveModel',
    reject: 'rejectModel',
    revoke: 'revokeModel',
  } as const;
  for (const [verb, rpc] of Object.entries(decisions))
    router.post(
      `${base}/registry/models/:id/${verb}`,
      requirePermission('models:approve'),
      async (req, res) => {
        const { id } = parse(IdParam, req.params, 'path');
        const { reason } = parse(ModelDecisionRequest, req.body ?? {}, 'decision');
        res.json(modelJson((await sovereign[rpc]({ id, reason }, o)).model));
      },
    );
  return router;
}
