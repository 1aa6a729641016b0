import * as z from 'zod/v4';
import { ClassificationTier, ResidencyAction, RoutingStrategy } from '@aion/contracts';
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
  const linksFor = (kind: 'ResidencyRule' | 'RoutingPolicy') => ({
    [`Get${kind}`]: { operationId: `get${kind}`, parameters: { id: '$response.body#/id' } },
    [`Update${kind}`]: { operationId: `update${kind}`, parameters: { id: '$response.body#/id' } },
    [`Delete${kind}`]: { operationId: `delete${kind}`, parameters: { id: '$response.body#/id' } },
  });
  const tag = 'sovereignty';
  const read = 'sovereign:read' as const;
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
    route({
      method: 'get',
      path: `${BASE}/residency/rules`,
      operationId: 'listResidencyRules',
      summary: 'Residency rules in evaluation order',
      tag,
      access: read,
      request: { query: PageQuery },
      responses: {
        200: {
          description: 'A page of rules',
          schema: z.object({ data: z.array(s.Rule), ...s.Page }),
        },
      },
      async handle({ query }) {
        const r = await sovereign.listResidencyRules(pageRequest(query), o);
        return { status: 200, body: { data: r.rules.map(ruleJson), ...page(r.page) } };
      },
    }),
    route({
      method: 'post',
      path: `${BASE}/residency/rules`,
      operationId: 'createResidencyRule',
      summary: 'Add a residency rule',
      tag,
      access: manage,
      request: { body: s.ResidencyRuleRequest },
      responses: { 201: { description: 'The rule', schema: s.Rule } },
      errors: [409, 422],
      links: linksFor('ResidencyRule'),
      async handle({ body }) {
        const { rule } = await sovereign.createResidencyRule({ rule: ruleMessage(body) }, o);
        return {
          status: 201,
          headers: { Location: `${BASE}/residency/rules/${rule?.id}` },
          body: ruleJson(rule),
        };
      },
    }),
    route({
      method: 'get',
      path: `${BASE}/residency/rules/{id}`,
      operationId: 'getResidencyRule',
      summary: 'One residency rule',
      tag,
      access: read,
      request: { path: s.IdPath },
      responses: { 200: { description: 'The rule', schema: s.Rule } },
      errors: [404],
      async handle({ path }) {
        return {
          status: 200,
          body: ruleJson((await sovereign.getResidencyRule({ id: path.id }, o)).rule),
        };
      },
    }),
    route({
      method: 'put',
      path: `${BASE}/residency/rules/{id}`,
      operationId: 'updateResidencyRule',
      summary: 'Replace a residency rule',
      tag,
      access: manage,
      request: { path: s.IdPath, body: s.ResidencyRuleRequest },
      responses: { 200: { description: 'The rule', schema: s.Rule } },
      errors: [404, 409],
      async handle({ path, body }) {
        const { rule } = await sovereign.updateResidencyRule(
          { rule: ruleMessage(body, path.id) },
          o,
        );
        return { status: 200, body: ruleJson(rule) };
      },
    }),
    route({
      method: 'delete',
      path: `${BASE}/residency/rules/{id}`,
      operationId: 'deleteResidencyRule',
      summary: 'Delete a residency rule',
      tag,
      access: manage,
      request: { path: s.IdPath },
      responses: { 204: { description: 'Deleted' } },
      errors: [404],
      async handle({ path }) {
        await sovereign.deleteResidencyRule({ id: path.id }, o);
        return { status: 204 };
      },
    }),
    route({
      method: 'get',
      path: `${BASE}/routing/policies`,
      operationId: 'listRoutingPolicies',
      summary: 'Routing policies',
      tag,
      access: read,
      request: { query: PageQuery },
      responses: {
        200: {
          description: 'A page of policies',
          schema: z.object({ data: z.array(s.Policy), ...s.Page }),
        },
      },
      async handle({ query }) {
        const r = await sovereign.listRoutingPolicies(pageRequest(query), o);
        return { status: 200, body: { data: r.policies.map(policyJson), ...page(r.page) } };
      },
    }),
    route({
      method: 'post',
      path: `${BASE}/routing/policies`,
      operationId: 'createRoutingPolicy',
      summary: 'Add a routing policy (strict, preferred or fallback jurisdictions)',
      tag,
      access: manage,
      request: { body: s.RoutingPolicyRequest },
      responses: { 201: { description: 'The policy', schema: s.Policy } },
      errors: [409],
      links: linksFor('RoutingPolicy'),
      async handle({ body }) {
        const { policy } = await sovereign.createRoutingPolicy({ policy: policyMessage(body) }, o);
        return {
          status: 201,
          headers: { Location: `${BASE}/routing/policies/${policy?.id}` },
          body: policyJson(policy),
        };
      },
    }),
    route({
      method: 'get',
      path: `${BASE}/routing/policies/{id}`,
      operationId: 'getRoutingPolicy',
      summary: 'One routing policy',
      tag,
      access: read,
      request: { path: s.IdPath },
      responses: { 200: { description: 'The policy', schema: s.Policy } },
      errors: [404],
      async handle({ path }) {
        return {
          status: 200,
          body: policyJson((await sovereign.getRoutingPolicy({ id: path.id }, o)).policy),
        };
      },
    }),
    route({
      method: 'put',
      path: `${BASE}/routing/policies/{id}`,
      operationId: 'updateRoutingPolicy',
      summary: 'Replace a routing policy',
      tag,
      access: manage,
      request: { path: s.IdPath, body: s.RoutingPolicyRequest },
      responses: { 200: { description: 'The policy', schema: s.Policy } },
      errors: [404, 409],
      async handle({ path, body }) {
        const { policy } = await sovereign.updateRoutingPolicy(
          { policy: policyMessage(body, path.id) },
          o,
        );
        return { status: 200, body: policyJson(policy) };
      },
    }),
    route({
      method: 'delete',
      path: `${BASE}/routing/policies/{id}`,
      operationId: 'deleteRoutingPolicy',
      summary: 'Delete a routing policy',
      tag,
      access: manage,
      request: { path: s.IdPath },
      responses: { 204: { description: 'Deleted' } },
      errors: [404],
      async handle({ path }) {
        await sovereign.deleteRoutingPolicy({ id: path.id }, o);
        return { status: 204 };
      },
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
