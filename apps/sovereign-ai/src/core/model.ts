/** The sovereign domain's vocabulary, shared by core, api and adapters. */

export const DATA_CLASSES = ['none', 'pii', 'financial', 'health', 'biometric'] as const;
export type DataClass = (typeof DATA_CLASSES)[number];

/** A rule's classification tier; `all` matches any data, classified or not. */
export const TIERS = ['pii', 'financial', 'health', 'biometric', 'all'] as const;
export type Tier = (typeof TIERS)[number];

export const ACTIONS = ['allow', 'deny', 'require_local'] as const;
export type ResidencyAction = (typeof ACTIONS)[number];

export interface DataContext {
  jurisdiction: string;
  classification: DataClass;
}

export interface ResidencyRule {
  id: string;
  tenantId: string;
  dataJurisdiction: string;
  tier: Tier;
  action: ResidencyAction;
  /** For allow and deny; empty for require_local. */
  targetJurisdictions: string[];
  priority: number;
  description: string;
  createdAt: Date;
  updatedAt: Date;
}

export type ResidencyRuleInput = Pick<
  ResidencyRule,
  'dataJurisdiction' | 'tier' | 'action' | 'targetJurisdictions' | 'priority' | 'description'
>;

export const STRATEGIES = ['strict', 'preferred', 'fallback'] as const;
export type RoutingStrategy = (typeof STRATEGIES)[number];

export interface RoutingPolicy {
  id: string;
  tenantId: string;
  name: string;
  strategy: RoutingStrategy;
  primaryJurisdiction: string;
  secondaryJurisdictions: string[];
  createdAt: Date;
}

export type RoutingPolicyInput = Pick<
  RoutingPolicy,
  'name' | 'strategy' | 'primaryJurisdiction' | 'secondaryJurisdictions'
>;

export const DEPLOYMENT_STATUSES = [
  'PENDING',
  'DEPLOYING',
  'ACTIVE',
  'FAILED',
  'DECOMMISSIONED',
] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

export type DeploymentMode = 'apply' | 'render';

export interface RegionalDeployment {
  id: string;
  tenantId: string;
  jurisdiction: string;
  region: string;
  namespace: string;
  modelId: string;
  modelVersion: string;
  image: string;
  replicas: number;
  status: DeploymentStatus;
  statusReason: string;
  endpoint: string;
  mode: DeploymentMode;
  createdAt: Date;
  updatedAt: Date;
}

export const MODEL_STATUSES = ['PENDING', 'APPROVED', 'REJECTED', 'REVOKED'] as const;
export type ModelStatus = (typeof MODEL_STATUSES)[number];

export interface SovereignModel {
  id: string;
  tenantId: string;
  modelRef: string;
  name: string;
  version: string;
  jurisdiction: string;
  status: ModelStatus;
  /** Subject of the principal that registered it; empty for models registered before 0003. */
  registeredBy: string;
  /**
   * The person behind that principal (its owner), whom the two-person rule keeps from approving;
   * the registrant's subject for models registered before 0004, empty where that is empty.
   */
  registeredByOwner: string;
  decidedBy: string;
  decisionReason: string;
  createdAt: Date;
  updatedAt: Date;
}

/** One page of a list, and how many there are in all (for the next page token). */
export interface Page<T> {
  items: T[];
  total: number;
}

export interface PageWindow {
  limit: number;
  offset: number;
}
