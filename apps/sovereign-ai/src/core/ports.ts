import type {
  DataContext,
  DeploymentStatus,
  ModelStatus,
  Page,
  PageWindow,
  RegionalDeployment,
  ResidencyRule,
  ResidencyRuleInput,
  RoutingPolicy,
  RoutingPolicyInput,
  SovereignModel,
} from './model';

/*
 * What the core needs from storage. Every store works in the tenant of the current request
 * (row-level security) and writes the events of a change in the same transaction as the change.
 */

export interface RuleStore {
  all(): Promise<ResidencyRule[]>;
  page(window: PageWindow): Promise<Page<ResidencyRule>>;
  get(id: string): Promise<ResidencyRule | undefined>;
  /** Refuses (returns 'limit') when the tenant already has `maxRules`; safe under concurrency. */
  create(input: ResidencyRuleInput, maxRules: number): Promise<ResidencyRule | 'limit'>;
  update(id: string, input: ResidencyRuleInput): Promise<ResidencyRule | undefined>;
  remove(id: string): Promise<boolean>;
}

export interface DecisionLog {
  /** Records an explicit enforcement decision; a violation also emits residency.violation. */
  record(decision: {
    taskId: string;
    dataJurisdiction: string;
    classification: string;
    attempted: string[];
    ruleId: string;
    allowed: boolean;
    reason: string;
    eventId?: string;
  }): Promise<void>;
  /** Decisions and violations of the last 24 hours. */
  lastDay(): Promise<{ decisions: number; violations: number }>;
}

export interface PolicyStore {
  page(window: PageWindow): Promise<Page<RoutingPolicy>>;
  get(id: string): Promise<RoutingPolicy | undefined>;
  create(input: RoutingPolicyInput): Promise<RoutingPolicy>;
  update(id: string, input: RoutingPolicyInput): Promise<RoutingPolicy | undefined>;
  remove(id: string): Promise<boolean>;
}

export type NewDeployment = Pick<
  RegionalDeployment,
  | 'jurisdiction'
  | 'region'
  | 'namespace'
  | 'modelId'
  | 'modelVersion'
  | 'image'
  | 'replicas'
  | 'mode'
>;

export interface DeploymentStore {
  all(): Promise<RegionalDeployment[]>;
  page(window: PageWindow, jurisdiction?: string): Promise<Page<RegionalDeployment>>;
  get(id: string): Promise<RegionalDeployment | undefined>;
  /** Inserts it PENDING and emits deployment.initiated. `id` is chosen by the caller. */
  create(id: string, deployment: NewDeployment): Promise<RegionalDeployment>;
  /** Moves it on (checked against the state machine under a row lock) and emits the event. */
  transition(
    id: string,
    to: DeploymentStatus,
    reason: string,
    endpoint?: string,
  ): Promise<RegionalDeployment>;
}

export interface ModelStore {
  all(): Promise<SovereignModel[]>;
  page(
    window: PageWindow,
    filter: { jurisdiction?: string; status?: ModelStatus },
  ): Promise<Page<SovereignModel>>;
  get(id: string): Promise<SovereignModel | undefined>;
  /** Inserts it PENDING and emits model.registered. */
  register(
    model: Pick<SovereignModel, 'modelRef' | 'name' | 'version' | 'jurisdiction'>,
  ): Promise<SovereignModel>;
  /** Moves it (checked under a row lock) and emits model.approved / rejected / revoked. */
  decide(
    id: string,
    to: 'APPROVED' | 'REJECTED' | 'REVOKED',
    actor: string,
    reason: string,
  ): Promise<SovereignModel>;
}

/** Routing decisions, published as routing.decision. */
export interface RoutingLog {
  record(decision: {
    taskId: string;
    data: DataContext;
    deploymentId: string;
    jurisdiction: string;
    ruleId: string;
    reason: string;
    usedFallback: boolean;
  }): Promise<void>;
}
