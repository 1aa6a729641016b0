import * as z from 'zod/v4';
import { ClassificationTier, ResidencyAction, RoutingStrategy } from '@aion/contracts';
import { collectionRoutes } from '../routing/collection';
import { route, type Route } from '../routing/route';
import { PageQuery } from '../../wire-schemas';
import {
  dataContext,
  deploymentJson,
  modelJson,
  num,
  page,
  pageRequest,
  policyJson,
  ruleJson,
  type SovereignClient,
} from './sovereign-json';
import type { SovereignSchemas } from './sovereign-schemas';

const BASE = '/api/v1/sovereign';

/** /api/v1/sovereign residency rules, routing policies, enforcement and routing decisions. */
export function residencyRoutes(
  sovereign: SovereignClient,
  s: SovereignSchemas,
  requestTimeoutMs: number,
): Route[] {
  const o = { deadlineMs: requestTimeoutMs };
  type RuleBody = z.output<typeof s.ResidencyRuleRequest>;
  type PolicyBody = z.output<typeof s.RoutingPolicyRequest>;
  const ruleMessage = (b: RuleBody, id = '') => ({
    id,
    dataJurisdiction: b.data_jurisdiction,
    tier: num(ClassificationTier, b.tier),
    action: num(ResidencyAction, b.action),
    targetJurisdictions: b.target_jurisdictions,
    priority: b.priority,
    description: b.description,
  });
  const policyMessage = (b: PolicyBody, id = '') => ({
    id,
    name: b.name,
    strategy: num(RoutingStrategy, b.strategy),
    primaryJurisdiction: b.primary_jurisdiction,
    secondaryJurisdictions: b.secondary_jurisdictions,
  });
  const tag = 'sovereignty';
  const read = 'platform:read' as const;
  const manage = 'sovereign:manage' as const;

  return [
    route({
      method: 'post',
      path: `${BASE}/residency/enforce`,
      operationId: 'enforceResidency',
      summary: 'Where may data of this context be processed? Names the rule that decided',
      tag,
      access: read,
      request: { body: s.EnforceRequest },
      responses: {
        200: {
          description: 'The decision',
          schema: z.object({
            allowed: z.boolean(),
            allowed_jurisdictions: z.array(z.string()),
            denied_jurisdictions: z.array(z.string()),
            unrestricted: z.boolean(),
            action: z.string(),
            decided_by_rule: z.string(),
            reason: z.string(),
            approved_models: z.array(s.Model),
            blocked_models: z.array(s.Model),
          }),
        },
      },
      async handle({ body }) {
        const r = await sovereign.enforceResidency(
          {
            dataContext: dataContext(body.data_context),
            candidateJurisdictions: body.candidate_jurisdictions,
            taskId: body.task_id,
          },
          o,
        );
        return {
          status: 200,
          body: {
            allowed: r.allowed,
            allowed_jurisdictions: r.allowedJurisdictions,
            denied_jurisdictions: r.deniedJurisdictions,
            unrestricted: r.unrestricted,
            action: r.action,
            decided_by_rule: r.decidedByRule,
            reason: r.reason,
            approved_models: r.allowedModels.map(modelJson),
            blocked_models: r.blockedModels.map(modelJson),
          },
        };
      },
    }),
    route({
      method: 'get',
      path: `${BASE}/residency/status`,
      operationId: 'getResidencyStatus',
      summary: "Rule count and the last day's decisions and violations",
      tag,
      access: read,
      request: {},
      responses: {
        200: {
          description: 'Status',
          schema: z.object({
            rule_count: z.int(),
            max_rules: z.int(),
            default_jurisdiction: z.string(),
            decisions_last_24h: z.int(),
            violations_last_24h: z.int(),
          }),
        },
      },
      async handle() {
        const r = await sovereign.getResidencyStatus({}, o);
        return {
          status: 200,
          body: {
            rule_count: r.ruleCount,
            max_rules: r.maxRules,
            default_jurisdiction: r.defaultJurisdiction,
            decisions_last_24h: Number(r.decisionsLast24h),
            violations_last_24h: Number(r.violationsLast24h),
          },
        };
      },
    }),
    ...collectionRoutes({
      path: `${BASE}/residency/rules`,
      kind: 'ResidencyRule',
      noun: 'residency rule',
      tag,
      read,
      manage,
      id: s.IdPath,
      query: PageQuery,
      body: s.ResidencyRuleRequest,
      item: s.Rule,
      conflicts: [409],
      async list(query) {
        const r = await sovereign.listResidencyRules(pageRequest(query), o);
        return { data: r.rules.map(ruleJson), ...page(r.page) };
      },
      create: async (body) =>
        ruleJson((await sovereign.createResidencyRule({ rule: ruleMessage(body) }, o)).rule),
      get: async (id) => ruleJson((await sovereign.getResidencyRule({ id }, o)).rule),
      replace: async (id, body) =>
        ruleJson((await sovereign.updateResidencyRule({ rule: ruleMessage(body, id) }, o)).rule),
      remove: async (id) => void (await sovereign.deleteResidencyRule({ id }, o)),
    }),
    ...collectionRoutes({
      path: `${BASE}/routing/policies`,
      kind: 'RoutingPolicy',
      noun: 'routing policy',
      tag,
      read,
      manage,
      id: s.IdPath,
      query: PageQuery,
      body: s.RoutingPolicyRequest,
      item: s.Policy,
      conflicts: [409],
      async list(query) {
        const r = await sovereign.listRoutingPolicies(pageRequest(query), o);
        return { data: r.policies.map(policyJson), ...page(r.page) };
      },
      create: async (body) =>
        policyJson(
          (await sovereign.createRoutingPolicy({ policy: policyMessage(body) }, o)).policy,
        ),
      get: async (id) => policyJson((await sovereign.getRoutingPolicy({ id }, o)).policy),
      replace: async (id, body) =>
        policyJson(
          (await sovereign.updateRoutingPolicy({ policy: policyMessage(body, id) }, o)).policy,
        ),
      remove: async (id) => void (await sovereign.deleteRoutingPolicy({ id }, o)),
    }),
    route({
      method: 'post',
      path: `${BASE}/route`,
      operationId: 'routeToDeployment',
      summary: 'The compliant regional deployment for a data context and model',
      tag,
      access: read,
      request: { body: s.RouteRequest },
      responses: {
        200: {
          description: 'The deployment and the rule that decided',
          schema: z.object({
            deployment: s.Deployment,
            decided_by_rule: z.string(),
            reason: z.string(),
            used_fallback: z.boolean(),
          }),
        },
      },
      errors: [404, 409],
      async handle({ body }) {
        const r = await sovereign.route(
          {
            dataContext: dataContext(body.data_context),
            modelId: body.model_id,
            routingPolicyId: body.routing_policy_id ?? '',
            taskId: body.task_id,
          },
          o,
        );
        return {
          status: 200,
          body: {
            deployment: deploymentJson(r.deployment),
            decided_by_rule: r.decidedByRule,
            reason: r.reason,
            used_fallback: r.usedFallback,
          },
        };
      },
    }),
  ];
}
