import * as z from 'zod/v4';
import { Classification, Jurisdiction } from './schemas';

/** Request schemas of /api/v1/sovereign; they validate requests and produce the OpenAPI paths. */

export const SovereignDataContext = z.strictObject({
  jurisdiction: Jurisdiction,
  classification: Classification.default('none'),
});

export const EnforceRequest = z.strictObject({
  data_context: SovereignDataContext,
  candidate_jurisdictions: z.array(Jurisdiction).max(100).default([]),
  task_id: z.string().max(128).default(''),
});

export const ResidencyRuleRequest = z.strictObject({
  data_jurisdiction: Jurisdiction,
  tier: z.enum(['pii', 'financial', 'health', 'biometric', 'all']),
  action: z.enum(['allow', 'deny', 'require_local']),
  target_jurisdictions: z.array(Jurisdiction).max(100).default([]),
  priority: z
    .int()
    .min(0)
    .max(1_000_000)
    .default(100)
    .describe('Lower numbers are evaluated first'),
  description: z.string().max(2000).default(''),
});

export const RoutingPolicyRequest = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$/),
  strategy: z.enum(['strict', 'preferred', 'fallback']),
  primary_jurisdiction: Jurisdiction,
  secondary_jurisdictions: z.array(Jurisdiction).max(20).default([]),
});

export const RouteRequest = z.strictObject({
  data_context: SovereignDataContext,
  model_id: z.string().max(200).default(''),
  routing_policy_id: z.uuid().optional(),
  task_id: z.string().max(128).default(''),
});

export const DeployRegionalRequest = z.strictObject({
  jurisdiction: Jurisdiction,
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
  image: z.string().min(1).max(255).describe('Model server image, e.g. registry.local/vllm:0.6.3'),
  replicas: z.int().min(1).max(100).default(1),
});

export const DeploymentStatusRequest = z.strictObject({
  status: z.enum(['ACTIVE', 'FAILED', 'DECOMMISSIONED']),
  reason: z.string().max(2000).default(''),
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

export const ComplianceOverrideRequest = z.strictObject({
  regulations: z.array(Regulation).min(1).max(50),
  adequate_jurisdictions: z.array(Jurisdiction).max(300).default([]),
});

export const RegisterModelRequest = z.strictObject({
  model_ref: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$/),
  name: z.string().max(200).default(''),
  version: z.string().max(200).default(''),
  jurisdiction: Jurisdiction,
});

export const ModelDecisionRequest = z.strictObject({ reason: z.string().max(2000).default('') });

export const SovereignListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  page_token: z.string().max(200).optional(),
});

export const ModelListQuery = SovereignListQuery.extend({
  jurisdiction: Jurisdiction.optional(),
  status: z.enum(['PENDING', 'APPROVED', 'REJECTED', 'REVOKED']).optional(),
});

export const RegionListQuery = SovereignListQuery.extend({ jurisdiction: Jurisdiction.optional() });

export const IdParam = z.strictObject({ id: z.uuid() });
export const JurisdictionParam = z.strictObject({ jurisdiction: Jurisdiction });
