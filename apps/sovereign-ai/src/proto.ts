// Domain values <-> protobuf shapes, used by the gRPC API and by the events the adapters write.
// Every enum of sovereign.proto lists its values in the order of the domain's lists, after
// UNSPECIFIED = 0, so a value's number is its position plus one.
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  ACTIONS,
  DATA_CLASSES,
  DEPLOYMENT_STATUSES,
  MODEL_STATUSES,
  STRATEGIES,
  TIERS,
  type DataContext,
  type RegionalDeployment,
  type ResidencyRule,
  type RoutingPolicy,
  type SovereignModel,
} from './core/model';

export const toEnum = <T extends string>(values: readonly T[], value: T): number =>
  values.indexOf(value) + 1;

/** The domain value of a wire enum number; undefined for UNSPECIFIED or unknown numbers. */
export const fromEnum = <T extends string>(values: readonly T[], n: number): T | undefined =>
  n >= 1 ? values[n - 1] : undefined;

export const ruleProto = (r: ResidencyRule) => ({
  id: r.id,
  tenantId: r.tenantId,
  dataJurisdiction: r.dataJurisdiction,
  tier: toEnum(TIERS, r.tier),
  action: toEnum(ACTIONS, r.action),
  targetJurisdictions: r.targetJurisdictions,
  priority: r.priority,
  description: r.description,
  createdAt: timestampFromDate(r.createdAt),
  updatedAt: timestampFromDate(r.updatedAt),
});

export const policyProto = (p: RoutingPolicy) => ({
  id: p.id,
  tenantId: p.tenantId,
  name: p.name,
  strategy: toEnum(STRATEGIES, p.strategy),
  primaryJurisdiction: p.primaryJurisdiction,
  secondaryJurisdictions: p.secondaryJurisdictions,
  createdAt: timestampFromDate(p.createdAt),
});

export const deploymentProto = (d: RegionalDeployment) => ({
  id: d.id,
  tenantId: d.tenantId,
  jurisdiction: d.jurisdiction,
  region: d.region,
  namespace: d.namespace,
  modelId: d.modelId,
  modelVersion: d.modelVersion,
  status: toEnum(DEPLOYMENT_STATUSES, d.status),
  endpoint: d.endpoint,
  mode: d.mode,
  createdAt: timestampFromDate(d.createdAt),
  updatedAt: timestampFromDate(d.updatedAt),
});

export const modelProto = (m: SovereignModel) => ({
  id: m.id,
  tenantId: m.tenantId,
  modelRef: m.modelRef,
  name: m.name,
  version: m.version,
  jurisdiction: m.jurisdiction,
  status: toEnum(MODEL_STATUSES, m.status),
  decidedBy: m.decidedBy,
  decisionReason: m.decisionReason,
  createdAt: timestampFromDate(m.createdAt),
  updatedAt: timestampFromDate(m.updatedAt),
});

export const dataContextProto = (d: DataContext) => ({
  jurisdiction: d.jurisdiction,
  classification: toEnum(DATA_CLASSES, d.classification),
});
