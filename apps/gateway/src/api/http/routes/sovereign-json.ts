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
import type { ClientOf } from '@aion/grpc';

/** The sovereign-ai service's messages as the JSON API spells them, and back. */

export type SovereignClient = ClientOf<typeof SovereignService>;
type Out<K extends keyof SovereignClient> = Awaited<ReturnType<SovereignClient[K]>>;

// Wire enums as the JSON API spells them: the generated enum's value name, e.g. 'PII' <-> 'pii'.
type WireEnum = Record<string, string | number>;
function name<T extends string>(e: WireEnum, n: number, lower = true): T {
  const value = typeof e[n] === 'string' ? (e[n] as string) : 'UNSPECIFIED';
  return (lower ? value.toLowerCase() : value) as T;
}
export const num = (e: WireEnum, value: string) => Number(e[value.toUpperCase()] ?? 0);
const iso = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString() : null);

type Tier = 'pii' | 'financial' | 'health' | 'biometric' | 'all';
type Action = 'allow' | 'deny' | 'require_local';
type Strategy = 'strict' | 'preferred' | 'fallback';
type ModelStatus = 'PENDING' | 'APPROVED' | 'REJECTED' | 'REVOKED';
type DeploymentState = 'PENDING' | 'DEPLOYING' | 'ACTIVE' | 'FAILED' | 'DECOMMISSIONED';

export const ruleJson = (r: Out<'getResidencyRule'>['rule']) => ({
  id: r?.id ?? '',
  data_jurisdiction: r?.dataJurisdiction ?? '',
  tier: name<Tier>(ClassificationTier, r?.tier ?? 0),
  action: name<Action>(ResidencyAction, r?.action ?? 0),
  target_jurisdictions: r?.targetJurisdictions ?? [],
  priority: r?.priority ?? 0,
  description: r?.description ?? '',
  created_at: iso(r?.createdAt),
  updated_at: iso(r?.updatedAt),
});
export const policyJson = (p: Out<'getRoutingPolicy'>['policy']) => ({
  id: p?.id ?? '',
  name: p?.name ?? '',
  strategy: name<Strategy>(RoutingStrategy, p?.strategy ?? 0),
  primary_jurisdiction: p?.primaryJurisdiction ?? '',
  secondary_jurisdictions: p?.secondaryJurisdictions ?? [],
  created_at: iso(p?.createdAt),
});
export const deploymentJson = (d: Out<'getRegionalDeployment'>['deployment']) => ({
  id: d?.id ?? '',
  jurisdiction: d?.jurisdiction ?? '',
  region: d?.region ?? '',
  namespace: d?.namespace ?? '',
  model_id: d?.modelId ?? '',
  model_version: d?.modelVersion ?? '',
  status: name<DeploymentState>(DeploymentStatus, d?.status ?? 0, false),
  endpoint: d?.endpoint || null,
  mode: d?.mode ?? '',
  created_at: iso(d?.createdAt),
  updated_at: iso(d?.updatedAt),
});
export const modelJson = (m: Out<'getModel'>['model']) => ({
  id: m?.id ?? '',
  model_ref: m?.modelRef ?? '',
  name: m?.name ?? '',
  version: m?.version ?? '',
  jurisdiction: m?.jurisdiction ?? '',
  status: name<ModelStatus>(ModelApprovalStatus, m?.status ?? 0, false),
  decided_by: m?.decidedBy || null,
  decision_reason: m?.decisionReason || null,
  created_at: iso(m?.createdAt),
  updated_at: iso(m?.updatedAt),
});
export const complianceJson = (c: Out<'getCompliance'>['compliance']) => ({
  jurisdiction: c?.jurisdiction ?? '',
  regulations: (c?.regulations ?? []).map((r) => ({
    name: r.name,
    localization_required: r.requirements?.localizationRequired ?? false,
    transfer_mechanisms: r.requirements?.transferMechanisms ?? [],
    encryption_at_rest: r.requirements?.encryptionAtRest ?? false,
    encryption_in_transit: r.requirements?.encryptionInTransit ?? false,
    retention_days: r.requirements?.retentionDays ?? 0,
    sources: r.sources,
  })),
  adequate_jurisdictions: c?.adequateJurisdictions ?? [],
  deployment_config: c?.deploymentConfig ?? {},
});
export const page = (p: { nextPageToken: string; totalSize: bigint } | undefined) => ({
  next_page_token: p?.nextPageToken || null,
  total: Number(p?.totalSize ?? 0),
});
export const pageRequest = (q: { limit: number; page_token?: string | undefined }) => ({
  page: { pageSize: q.limit, pageToken: q.page_token ?? '' },
});
export const dataContext = (d: { jurisdiction: string; classification: string }) => ({
  jurisdiction: d.jurisdiction,
  classification: num(DataClassification, d.classification),
});
