import { and, asc, eq, sql } from 'drizzle-orm';
import { type Tx, TenantRepository } from '@aion/db';
import type {
  AgentRoleSettings,
  AgentRoleStatus,
  GovernanceStore,
  PromptSource,
  Proposer,
  PromptStatus,
  PromptVersion,
  UpdateRefusal,
} from '../../core/governance';
import { agentRoles, promptVersions } from './schema';

type VersionRow = typeof promptVersions.$inferSelect;

const toVersion = (row: VersionRow): PromptVersion => ({
  role: row.role,
  version: row.version,
  prompt: row.prompt,
  source: row.source as PromptSource,
  status: row.status as PromptStatus,
  reason: row.reason,
  proposedBy: row.proposedBy,
  proposedByOwner: row.proposedByOwner,
  decidedBy: row.decidedBy ?? undefined,
  decidedAt: row.decidedAt ?? undefined,
  decisionNote: row.decisionNote ?? undefined,
  createdAt: row.createdAt,
});

/** The database's idea of "today" (UTC) and "now", so every replica counts on the same clock. */
const TODAY = sql`(now() at time zone 'utc')::date`;

/** Roles and prompt versions in PostgreSQL (RLS by tenant). */
export class PostgresGovernance extends TenantRepository implements GovernanceStore {
  async upsertRole(name: string, settings: AgentRoleSettings): Promise<AgentRoleStatus> {
    await this.tx(async (tx, tenantId) => {
      const values = {
        description: settings.description,
        dailyUpdateLimit: settings.dailyUpdateLimit,
        cooldownSeconds: settings.cooldownSeconds,
        requiresApproval: settings.requiresApproval,
      };
      await tx
        .insert(agentRoles)
        .values({ tenantId, name, ...values })
        .onConflictDoUpdate({
          target: [agentRoles.tenantId, agentRoles.name],
          set: { ...values, updatedAt: sql`now()` },
        });
    });
    return (await this.status(name))[0]!;
  }

  async ensureRoles(roles: Readonly<Record<string, AgentRoleSettings>>): Promise<void> {
    const entries = Object.entries(roles);
    if (entries.length === 0) return;
    await this.tx(async (tx, tenantId) => {
      await tx
        .insert(agentRoles)
        .values(
          entries.map(([name, settings]) => ({
            tenantId,
            name,
            description: settings.description,
            dailyUpdateLimit: settings.dailyUpdateLimit,
            cooldownSeconds: settings.cooldownSeconds,
            requiresApproval: settings.requiresApproval,
          })),
        )
        .onConflictDoNothing({ target: [agentRoles.tenantId, agentRoles.name] });
    });
  }

  async status(name?: string): Promise<AgentRoleStatus[]> {
    return this.tx(async (tx) => {
      const rows = await tx
        .select({
          role: agentRoles,
          now: sql<string>`now()`,
          today: sql<string>`${TODAY}::text`,
          pending: sql<number>`(select count(*)::int from ${promptVersions} v where v.tenant_id = ${agentRoles.tenantId} and v.role = ${agentRoles.name} and v.status = 'pending_approval')`,
        })
        .from(agentRoles)
        .where(name ? eq(agentRoles.name, name) : undefined)
        .orderBy(asc(agentRoles.name));
      return rows.map(({ role, now, today, pending }) => {
        const nowAt = new Date(now);
        const usedToday = role.usageDay === today ? role.updatesToday : 0;
        const cooldownEnds = role.lastAutomaticUpdateAt
          ? new Date(role.lastAutomaticUpdateAt.getTime() + role.cooldownSeconds * 1000)
          : nowAt;
        const tomorrow = new Date(`${today}T00:00:00Z`);
        tomorrow.setUTCDate(tomorrow.getUTCDate() + 1);
        const limitEnds = usedToday >= role.dailyUpdateLimit ? tomorrow : nowAt;
        const next = Math.max(nowAt.getTime(), cooldownEnds.getTime(), limitEnds.getTime());
        return {
          name: role.name,
          description: role.description,
          dailyUpdateLimit: role.dailyUpdateLimit,
          cooldownSeconds: role.cooldownSeconds,
          requiresApproval: role.requiresApproval,
          activeVersion: role.activeVersion ?? undefined,
          latestVersion: role.lastVersion,
          updatesToday: usedToday,
          remainingToday: Math.max(0, role.dailyUpdateLimit - usedToday),
          lastAutomaticUpdateAt: role.lastAutomaticUpdateAt ?? undefined,
          nextUpdateAllowedAt: new Date(next),
          pendingApprovals: Number(pending),
        };
      });
    });
  }

  async addManualVersion(
    role: string,
    prompt: string,
    reason: string,
    by: Proposer,
  ): Promise<PromptVersion> {
    return this.tx(async (tx, tenantId) => {
      const [claimed] = await tx
        .update(agentRoles)
        .set({ lastVersion: sql`${agentRoles.lastVersion} + 1`, updatedAt: sql`now()` })
        .where(eq(agentRoles.name, role))
        .returning({ version: agentRoles.lastVersion });
      if (!claimed) throw new Error(`agent role ${role} disappeared`);
      return this.insertVersion(tx, tenantId, {
        role,
        version: claimed.version,
        prompt,
        reason,
        by,
        source: 'manual',
        activate: true,
      });
    });
  }

  async addAutomaticVersion(
    role: string,
    prompt: string,
    reason: string,
    by: Proposer,
  ): Promise<PromptVersion | UpdateRefusal> {
    return this.tx(async (tx, tenantId) => {
      // The whole rule in one statement: concurrent callers queue on the row lock and each
      // re-checks the row as the previous one left it, so none can slip past the limit.
      const [claimed] = await tx
        .update(agentRoles)
        .set({
          updatesToday: sql`case when ${agentRoles.usageDay} = ${TODAY} then ${agentRoles.updatesToday} + 1 else 1 end`,
          usageDay: sql`${TODAY}`,
          lastAutomaticUpdateAt: sql`now()`,
          lastVersion: sql`${agentRoles.lastVersion} + 1`,
          updatedAt: sql`now()`,
        })
        .where(
          and(
            eq(agentRoles.name, role),
            sql`(${agentRoles.usageDay} is distinct from ${TODAY} and ${agentRoles.dailyUpdateLimit} > 0 or ${agentRoles.updatesToday} < ${agentRoles.dailyUpdateLimit})`,
            sql`(${agentRoles.cooldownSeconds} = 0 or ${agentRoles.lastAutomaticUpdateAt} is null or ${agentRoles.lastAutomaticUpdateAt} <= now() - make_interval(secs => ${agentRoles.cooldownSeconds}))`,
          ),
        )
        .returning({
          version: agentRoles.lastVersion,
          requiresApproval: agentRoles.requiresApproval,
        });
      if (!claimed) return this.refusal(tx, role);
      return this.insertVersion(tx, tenantId, {
        role,
        version: claimed.version,
        prompt,
        reason,
        by,
        source: 'automatic',
        activate: !claimed.requiresApproval,
      });
    });
  }

  private async refusal(tx: Tx, role: string): Promise<UpdateRefusal> {
    const [row] = await tx
      .select({
        role: agentRoles,
        today: sql<string>`${TODAY}::text`,
      })
      .from(agentRoles)
      .where(eq(agentRoles.name, role));
    if (!row) return { kind: 'unknown_role' };
    const { role: r, today } = row;
    if (
      r.dailyUpdateLimit === 0 ||
      (r.usageDay === today && r.updatesToday >= r.dailyUpdateLimit)
    ) {
      const tomorrow = new Date(`${today}T00:00:00Z`);
      tomorrow.setUTCDate(tomorrow.getUTCDate() + 1);
      return { kind: 'daily_limit', limit: r.dailyUpdateLimit, retryAt: tomorrow };
    }
    return {
      kind: 'cooldown',
      cooldownSeconds: r.cooldownSeconds,
      retryAt: new Date(
        (r.lastAutomaticUpdateAt?.getTime() ?? Date.now()) + r.cooldownSeconds * 1000,
      ),
    };
  }

  private async insertVersion(
    tx: Tx,
    tenantId: string,
    v: {
      role: string;
      version: number;
      prompt: string;
      reason: string;
      by: Proposer;
      source: PromptSource;
      activate: boolean;
    },
  ): Promise<PromptVersion> {
    if (v.activate) await this.supersede(tx, v.role);
    const [row] = await tx
      .insert(promptVersions)
      .values({
        tenantId,
        role: v.role,
        version: v.version,
        prompt: v.prompt,
        source: v.source,
        status: v.activate ? 'active' : 'pending_approval',
        reason: v.reason,
        proposedBy: v.by.subject,
        proposedByOwner: v.by.owner,
      })
      .returning();
    if (v.activate)
      await tx
        .update(agentRoles)
        .set({ activeVersion: v.version })
        .where(eq(agentRoles.name, v.role));
    return toVersion(row!);
  }

  private async supersede(tx: Tx, role: string): Promise<void> {
    await tx
      .update(promptVersions)
      .set({ status: 'superseded' })
      .where(and(eq(promptVersions.role, role), eq(promptVersions.status, 'active')));
  }

  async decide(
    role: string,
    version: number,
    decision: { approve: boolean; by: string; note: string },
  ): Promise<PromptVersion | undefined> {
    return this.tx(async (tx) => {
      // The role's row lock orders this against other decisions and updates of the role.
      await tx
        .select({ name: agentRoles.name })
        .from(agentRoles)
        .where(eq(agentRoles.name, role))
        .for('update');
      const pending = and(
        eq(promptVersions.role, role),
        eq(promptVersions.version, version),
        eq(promptVersions.status, 'pending_approval'),
      );
      const [still] = await tx.select().from(promptVersions).where(pending);
      if (!still) return undefined;
      if (decision.approve) await this.supersede(tx, role);
      const [row] = await tx
        .update(promptVersions)
        .set({
          status: decision.approve ? 'active' : 'rejected',
          decidedBy: decision.by,
          decidedAt: sql`now()`,
          decisionNote: decision.note,
        })
        .where(pending)
        .returning();
      if (decision.approve)
        await tx
          .update(agentRoles)
          .set({ activeVersion: version, updatedAt: sql`now()` })
          .where(eq(agentRoles.name, role));
      return row ? toVersion(row) : undefined;
    });
  }

  async versions(role: string): Promise<PromptVersion[]> {
    return this.tx(async (tx) =>
      (
        await tx
          .select()
          .from(promptVersions)
          .where(eq(promptVersions.role, role))
          .orderBy(asc(promptVersions.version))
      ).map(toVersion),
    );
  }

  async version(role: string, version: number): Promise<PromptVersion | undefined> {
    return this.tx(async (tx) => {
      const [row] = await tx
        .select()
        .from(promptVersions)
        .where(and(eq(promptVersions.role, role), eq(promptVersions.version, version)));
      return row ? toVersion(row) : undefined;
    });
  }
}
