import * as z from 'zod/v4';
import {
  Classification,
  PageInfo,
  PageQuery,
  Timestamp,
  Uuid,
  type JurisdictionSchema,
} from '../../wire-schemas';

/** Request and response schemas of /api/v1/sovereign, built over the jurisdiction registry. */
export function sovereignSchemas(J: JurisdictionSchema) {
  const DataContext = z.strictObject({
    jurisdiction: J,
    classification: Classification.default('none'),
  });
  const Regulation = z.strictObject({
    name: z.string().min(1).max(200),
    localization_required: z.boolean().default(false),
    transfer_mechanisms: z.array(z.string().max(500)).max(50).default([]),
    encryption_at_rest: z.boolean().default(true),
    encryption_in_transit: z.boolean().default(true),
    retention_days: z.int().min(0).max(36_500).default(0),
    sources: z.array(z.string().max(1000)).max(50).default([]),
  });
  const Model = z.object({
    id: Uuid,
    model_ref: z.string(),
    name: z.string(),
    version: z.string(),
    jurisdiction: z.string(),
    status: z.enum(['PENDING', 'APPROVED', 'REJECTED', 'REVOKED']),
    decided_by: z.string().nullable(),
    decision_reason: z.string().nullable(),
    created_at: Timestamp.nullable(),
    updated_at: Timestamp.nullable(),
  });
  const Deployment = z.object({
    id: Uuid,
    jurisdiction: z.string(),
    region: z.string(),
    namespace: z.string(),
    model_id: z.string(),
    model_version: z.string(),
    status: z.enum(['PENDING', 'DEPLOYING', 'ACTIVE', 'FAILED', 'DECOMMISSIONED']),
    endpoint: z.string().nullable(),
    mode: z.string().describe('render (manifests only) or apply (sent to Kubernetes)'),
    created_at: Timestamp.nullable(),
    updated_at: Timestamp.nullable(),
  });
  const ruleFields = {
    data_jurisdiction: J,
    tier: z.enum(['pii', 'financial', 'health', 'biometric', 'all']),
    priority: z
      .int()
      .min(0)
      .max(1_000_000)
      .default(100)
      .describe('Lower numbers are evaluated first'),
    description: z.string().max(2000).default(''),
  };
  const policyFields = {
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$/),
    primary_jurisdiction: J,
  };
  const ModelRef = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$/);
  return {
    DataContext,
    EnforceRequest: z.strictObject({
      data_context: DataContext,
      candidate_jurisdictions: z.array(J).max(100).default([]),
      task_id: z.string().max(128).default(''),
    }),
    // The sovereign-ai service's own rules, stated so the document is exact: require_local names
    // no targets, allow and deny at least one; a strict policy has no secondaries.
    ResidencyRuleRequest: z.discriminatedUnion('action', [
      z.strictObject({
        ...ruleFields,
        action: z.literal('require_local'),
        target_jurisdictions: z.array(J).max(0).default([]),
      }),
      z.strictObject({
        ...ruleFields,
        action: z.enum(['allow', 'deny']),
        target_jurisdictions: z.array(J).min(1).max(100),
      }),
    ]),
    RoutingPolicyRequest: z.discriminatedUnion('strategy', [
      z.strictObject({
        ...policyFields,
        strategy: z.literal('strict'),
        secondary_jurisdictions: z.array(J).max(0).default([]),
      }),
      z.strictObject({
        ...policyFields,
        strategy: z.enum(['preferred', 'fallback']),
        secondary_jurisdictions: z.array(J).max(20).default([]),
      }),
    ]),
    RouteRequest: z.strictObject({
      data_context: DataContext,
      model_id: z.string().max(200).default(''),
      routing_policy_id: Uuid.optional(),
      task_id: z.string().max(128).default(''),
    }),
    DeployRegionalRequest: z.strictObject({
      jurisdiction: J,
      region: z
        .string()
        .regex(/^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/)
        .describe('e.g. eu-central-1'),
      model_id: z
        .string()
        .min(1)
        .max(200)
        .describe('Registry id, reference or name of an APPROVED model'),
      model_version: z.string().max(200).default(''),
      image: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9._\-/:@]{0,254}$/)
        .describe('Model server image, e.g. registry.local/vllm:0.6.3'),
      replicas: z.int().min(1).max(100).default(1),
    }),
    DeploymentStatusRequest: z.strictObject({
      status: z.enum(['ACTIVE', 'FAILED', 'DECOMMISSIONED']),
      reason: z.string().max(2000).default(''),
    }),
    ComplianceOverrideRequest: z.strictObject({
      regulations: z.array(Regulation).min(1).max(50),
      adequate_jurisdictions: z.array(J).max(300).default([]),
    }),
    RegisterModelRequest: z.strictObject({
      model_ref: ModelRef,
      name: z.string().max(200).default(''),
      version: z.union([z.literal(''), ModelRef]).default(''),
      jurisdiction: J,
    }),
    ModelDecisionRequest: z.strictObject({ reason: z.string().max(2000).default('') }),
    ModelListQuery: PageQuery.extend({
      jurisdiction: J.optional(),
      status: z.enum(['PENDING', 'APPROVED', 'REJECTED', 'REVOKED']).optional(),
    }),
    RegionListQuery: PageQuery.extend({ jurisdiction: J.optional() }),
    IdPath: z.strictObject({ id: Uuid }),
    JurisdictionPath: z.strictObject({ jurisdiction: J }),
    Rule: z.object({
      id: Uuid,
      data_jurisdiction: z.string(),
      tier: z.enum(['pii', 'financial', 'health', 'biometric', 'all']),
      action: z.enum(['allow', 'deny', 'require_local']),
      target_jurisdictions: z.array(z.string()),
      priority: z.int(),
      description: z.string(),
      created_at: Timestamp.nullable(),
      updated_at: Timestamp.nullable(),
    }),
    Policy: z.object({
      id: Uuid,
      name: z.string(),
      strategy: z.enum(['strict', 'preferred', 'fallback']),
      primary_jurisdiction: z.string(),
      secondary_jurisdictions: z.array(z.string()),
      created_at: Timestamp.nullable(),
    }),
    Model,
    Deployment,
    Compliance: z.object({
      jurisdiction: z.string(),
      regulations: z.array(
        z.object({
          name: z.string(),
          localization_required: z.boolean(),
          transfer_mechanisms: z.array(z.string()),
          encryption_at_rest: z.boolean(),
          encryption_in_transit: z.boolean(),
          retention_days: z.int(),
          sources: z.array(z.string()),
        }),
      ),
      adequate_jurisdictions: z.array(z.string()),
      deployment_config: z.record(z.string(), z.unknown()),
    }),
    Manifests: z.string().describe('Rendered Kubernetes manifests (YAML)'),
    Page: PageInfo,
  };
}
export type SovereignSchemas = ReturnType<typeof sovereignSchemas>;
