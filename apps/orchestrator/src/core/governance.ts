import type { AuditRecorder } from '@aion/events';
import { AionError } from '@aion/errors';
import { requireTenant } from '@aion/tenancy';

export interface AgentRoleSettings {
  description: string;
  dailyUpdateLimit: number;
  cooldownSeconds: number;
  requiresApproval: boolean;
}

export interface AgentRoleStatus extends AgentRoleSettings {
  name: string;
  activeVersion?: number | undefined;
  latestVersion: number;
  /** Automatic updates counted today (UTC), including those awaiting approval. */
  updatesToday: number;
  remainingToday: number;
  lastAutomaticUpdateAt?: Date | undefined;
  /** When the next automatic update may come (now, when it already may). */
  nextUpdateAllowedAt: Date;
  pendingApprovals: number;
}

export type PromptSource = 'manual' | 'automatic';
export type PromptStatus = 'pending_approval' | 'active' | 'superseded' | 'rejected';

export interface PromptVersion {
  role: string;
  version: number;
  prompt: string;
  source: PromptSource;
  status: PromptStatus;
  reason: string;
  /** The proposing principal's subject (which key, login or service). */
  proposedBy: string;
  /** The person behind that principal (its owner): whom the four-eyes rule keeps from approving. */
  proposedByOwner: string;
  decidedBy?: string | undefined;
  decidedAt?: Date | undefined;
  decisionNote?: string | undefined;
  createdAt: Date;
}

/** Who proposes a version: the principal's subject and the person behind it. */
export interface Proposer {
  subject: string;
  owner: string;
}

/** Why an automatic update was refused, from the database's view of the role at that moment. */
export type UpdateRefusal =
  | { kind: 'unknown_role' }
  | { kind: 'daily_limit'; limit: number; retryAt: Date }
  | { kind: 'cooldown'; cooldownSeconds: number; retryAt: Date };

/** Roles and prompt versions; every call runs in the caller's tenant. */
/**
 * The roles every tenant starts with (the governance seed): coding agents learn at most five times
 * a day, two hours apart; a security agent's prompt never changes without a second person. An
 * operator may change either with PUT /api/v1/governance/roles/{role}; the defaults never
 * overwrite that.
 */
export const DEFAULT_AGENT_ROLES: Readonly<Record<string, AgentRoleSettings>> = {
  developer: {
    description: 'Coding agents: at most 5 automatic prompt updates a day, 2 h apart',
    dailyUpdateLimit: 5,
    cooldownSeconds: 7_200,
    requiresApproval: false,
  },
  security: {
    description: "Security agents: every prompt update needs another person's approval",
    dailyUpdateLimit: 5,
    cooldownSeconds: 7_200,
    requiresApproval: true,
  },
};

export interface GovernanceStore {
  upsertRole(name: string, settings: AgentRoleSettings): Promise<AgentRoleStatus>;
  /** Creates the roles the tenant does not have yet; existing ones stay as they are. */
  ensureRoles(roles: Readonly<Record<string, AgentRoleSettings>>): Promise<void>;
  status(name?: string): Promise<AgentRoleStatus[]>;
  /** A manual version becomes active at once; limits govern automatic learning only. */
  addManualVersion(
    role: string,
    prompt: string,
    reason: string,
    by: Proposer,
  ): Promise<PromptVersion>;
  /**
   * Counts the update against the role's daily limit and cooldown and stores the version, in one
   * transaction whose conditional update serialises concurrent callers on the role's row.
   */
  addAutomaticVersion(
    role: string,
    prompt: string,
    reason: string,
    by: Proposer,
  ): Promise<PromptVersion | UpdateRefusal>;
  /** Approves (activates) or rejects a pending version; undefined when it is not pending. */
  decide(
    role: string,
    version: number,
    decision: { approve: boolean; by: string; note: string },
  ): Promise<PromptVersion | undefined>;
  versions(role: string): Promise<PromptVersion[]>;
  version(role: string, version: number): Promise<PromptVersion | undefined>;
}

/** Records a change in the transaction that makes it (the service's AuditTrail). */
export type GovernanceAudit = Pick<AuditRecorder, 'recordChange'>;

const ROLE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

function roleName(name: string): string {
  if (!ROLE_NAME.test(name))
    throw AionError.validation('role must be a lower-case name (a-z, 0-9, _ and -)', [
      { field: 'role', message: 'must match ^[a-z][a-z0-9_-]{0,62}$' },
    ]);
  return name;
}

/**
 * Learning governance: an agent role's prompt changes automatically only within its daily limit
 * and cooldown and, where the role requires it, only once someone other than the proposer
 * approved it: another person, not another credential of the same person (owners are compared).
 * Manual versions (operators) are not limited. Every change is audited.
 */
export class GovernanceService {
  /** Tenants whose default roles this replica has already made sure of. */
  private readonly seeded = new Set<string>();

  constructor(
    private readonly store: GovernanceStore,
    private readonly audit: GovernanceAudit,
    private readonly defaults: Readonly<Record<string, AgentRoleSettings>> = DEFAULT_AGENT_ROLES,
  ) {}

  /** Once per tenant and replica: the default roles exist (an insert that keeps what is there). */
  private async withDefaults(): Promise<void> {
    const { tenantId } = requireTenant();
    if (this.seeded.has(tenantId)) return;
    await this.store.ensureRoles(this.defaults);
    this.seeded.add(tenantId);
    if (this.seeded.size > 100_000) this.seeded.delete(this.seeded.values().next().value!);
  }

  async upsertRole(name: string, settings: AgentRoleSettings): Promise<AgentRoleStatus> {
    await this.withDefaults();
    return this.audit.recordChange(
      () => this.store.upsertRole(roleName(name), settings),
      () => ({ action: 'governance.role_upserted', resourceId: name, details: { ...settings } }),
    );
  }

  async status(): Promise<AgentRoleStatus[]> {
    await this.withDefaults();
    return this.store.status();
  }

  async propose(
    name: string,
    update: { prompt: string; source: PromptSource; reason: string },
  ): Promise<PromptVersion> {
    await this.withDefaults();
    const role = roleName(name);
    const { subject, owner } = requireTenant();
    const by = { subject, owner };
    if (update.source === 'manual') {
      const known = await this.store.status(role);
      if (known.length === 0) throw AionError.notFound('agent role', role);
      return this.audit.recordChange(
        () => this.store.addManualVersion(role, update.prompt, update.reason, by),
        (version) => ({
          action: 'governance.prompt_set',
          resourceId: role,
          details: { version: version.version },
        }),
      );
    }
    const outcome = await this.audit.recordChange(
      () => this.store.addAutomaticVersion(role, update.prompt, update.reason, by),
      (added) =>
        'kind' in added
          ? undefined
          : {
              action: 'governance.prompt_proposed',
              resourceId: role,
              details: { version: added.version, status: added.status },
            },
    );
    if ('kind' in outcome) throw refusalError(role, outcome);
    return outcome;
  }

  async decide(
    name: string,
    version: number,
    decision: { approve: boolean; note: string },
  ): Promise<PromptVersion> {
    await this.withDefaults();
    const role = roleName(name);
    const { subject: by, owner } = requireTenant();
    const existing = await this.store.version(role, version);
    if (!existing) throw AionError.notFound('prompt version', `${role}@${version}`);
    if (existing.status !== 'pending_approval')
      throw AionError.conflict(
        `prompt version ${role}@${version} is ${existing.status}, not pending approval`,
      );
    // Four eyes: whoever proposed an update may not approve it, with this or any other of their
    // credentials (a second key of the same person has the same owner).
    if (decision.approve && existing.proposedByOwner === owner)
      throw new AionError(
        'auth.forbidden',
        `${owner} proposed ${role}@${version} and may not approve it, with any credential: another person must`,
      );
    const decided = await this.audit.recordChange(
      () => this.store.decide(role, version, { ...decision, by }),
      (done) =>
        done && {
          action: decision.approve ? 'governance.prompt_approved' : 'governance.prompt_rejected',
          resourceId: role,
          details: { version, note: decision.note },
        },
    );
    if (!decided)
      throw AionError.conflict(`prompt version ${role}@${version} was decided meanwhile`);
    return decided;
  }

  async versions(name: string): Promise<PromptVersion[]> {
    await this.withDefaults();
    const role = roleName(name);
    if ((await this.store.status(role)).length === 0) throw AionError.notFound('agent role', role);
    return this.store.versions(role);
  }
}

function refusalError(role: string, refusal: UpdateRefusal): AionError {
  if (refusal.kind === 'unknown_role') return AionError.notFound('agent role', role);
  const retryAfterSeconds = Math.max(1, Math.ceil((refusal.retryAt.getTime() - Date.now()) / 1000));
  const message =
    refusal.kind === 'daily_limit'
      ? `role ${role} reached its daily limit of ${refusal.limit} automatic prompt updates; next allowed at ${refusal.retryAt.toISOString()}`
      : `role ${role} is cooling down (${refusal.cooldownSeconds} s between automatic prompt updates); next allowed at ${refusal.retryAt.toISOString()}`;
  return new AionError('rate_limit.exceeded', message, {
    retryAfterSeconds,
    details: [
      {
        field: 'role',
        reason: refusal.kind,
        message: `retry after ${retryAfterSeconds} s`,
      },
    ],
  });
}
