import type * as z from 'zod/v4';
import { body, errors, idempotencyKey, json, ok } from './openapi-parts';
import {
  ComplianceOverrideRequest,
  DeploymentStatusRequest,
  DeployRegionalRequest,
  EnforceRequest,
  ModelDecisionRequest,
  ModelListQuery,
  RegionListQuery,
  RegisterModelRequest,
  ResidencyRuleRequest,
  RouteRequest,
  RoutingPolicyRequest,
  SovereignListQuery,
} from './sovereign-schemas';

const notFound = { '404': { $ref: '#/components/responses/Error' } };
const conflict = { '409': { $ref: '#/components/responses/Error' } };
const id = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const jurisdiction = {
  name: 'jurisdiction',
  in: 'path',
  required: true,
  schema: { type: 'string' },
};

/** Query parameters from the same schema that validates the query. */
function query(schema: z.ZodType) {
  const props = (json(schema) as { properties?: Record<string, unknown> }).properties ?? {};
  return Object.entries(props).map(([name, s]) => ({ name, in: 'query', schema: s }));
}

const get = (summary: string, parameters: unknown[] = []) => ({
  get: { summary, parameters, responses: { '200': ok(summary), ...notFound, ...errors } },
});
const write = (
  summary: string,
  schema: z.ZodType | undefined,
  status: string,
  parameters: unknown[] = [],
) => ({
  summary,
  parameters: [...parameters, idempotencyKey],
  ...(schema ? { requestBody: body(schema) } : {}),
  responses: { [status]: ok(summary), ...notFound, ...conflict, ...errors },
});

/** The /api/v1/sovereign paths, the receipt keys, generated from the request schemas. */
export function sovereignPaths() {
  const base = '/api/v1/sovereign';
  const modelDecision = (verb: string) => ({
    post: write(`${verb} a model (admin or operator)`, ModelDecisionRequest, '200', [id]),
  });
  return {
    '/.well-known/aion-receipt-keys': {
      get: {
        summary: 'Public keys (JWKS) that verify sovereignty receipts; no authentication',
        security: [],
        responses: { '200': ok('JWKS') },
      },
    },
    [`${base}/residency/enforce`]: {
      post: write(
        'Where may this data be processed? Records the decision; a refusal is a residency.violation',
        EnforceRequest,
        '200',
      ),
    },
    [`${base}/residency/status`]: get(
      'Rule count and limit, default jurisdiction, decisions and violations in 24 h',
    ),
    [`${base}/residency/rules`]: {
      ...get('Residency rules in evaluation order', query(SovereignListQuery)),
      post: write(
        'Create a residency rule (refused beyond the per-tenant limit)',
        ResidencyRuleRequest,
        '201',
      ),
    },
    [`${base}/residency/rules/{id}`]: {
      ...get('One residency rule', [id]),
      put: write('Replace a residency rule', ResidencyRuleRequest, '200', [id]),
      delete: write('Delete a residency rule', undefined, '204', [id]),
    },
    [`${base}/routing/policies`]: {
      ...get('Routing policies', query(SovereignListQuery)),
      post: write(
        'Create a routing policy (strict, preferred or fallback)',
        RoutingPolicyRequest,
        '201',
      ),
    },
    [`${base}/routing/policies/{id}`]: {
      ...get('One routing policy', [id]),
      put: write('Replace a routing policy', RoutingPolicyRequest, '200', [id]),
      delete: write('Delete a routing policy', undefined, '204', [id]),
    },
    [`${base}/route`]: {
      post: write(
        'Pick the compliant deployment for a piece of data (routing.decision)',
        RouteRequest,
        '200',
      ),
    },
    [`${base}/deploy/regional`]: {
      post: write(
        'Deploy an approved model in a jurisdiction and region (apply or render)',
        DeployRegionalRequest,
        '202',
      ),
    },
    [`${base}/regions`]: get(
      "Region codes and the tenant's regional deployments",
      query(RegionListQuery),
    ),
    [`${base}/deployments/{id}`]: get('One regional deployment with its manifests', [id]),
    [`${base}/deployments/{id}/status`]: {
      post: write(
        'Report a rendered rollout (ACTIVE, FAILED) or decommission',
        DeploymentStatusRequest,
        '200',
        [id],
      ),
    },
    [`${base}/compliance/{jurisdiction}`]: {
      ...get('Regulations, requirements and deployment configuration for a jurisdiction', [
        jurisdiction,
      ]),
      put: write(
        "Override the compliance map for this tenant's jurisdiction",
        ComplianceOverrideRequest,
        '200',
        [jurisdiction],
      ),
    },
    [`${base}/registry/models`]: {
      ...get('Models in the sovereign registry', query(ModelListQuery)),
      post: write(
        'Register a model for approval in a jurisdiction (PENDING)',
        RegisterModelRequest,
        '201',
      ),
    },
    [`${base}/registry/models/{id}`]: get('One registered model', [id]),
    [`${base}/registry/models/{id}/approve`]: modelDecision('Approve'),
    [`${base}/registry/models/{id}/reject`]: modelDecision('Reject'),
    [`${base}/registry/models/{id}/revoke`]: modelDecision('Revoke'),
  };
}
