import { eq, sql } from 'drizzle-orm';
import { TenantGroupCommit, TenantRepository, type Db } from '@aion/db';
import { AionError } from '@aion/errors';
import { requireTenant } from '@aion/tenancy';
import type { BudgetPort, BudgetState, Reservation } from '../../core/budget';
import { applyBudgetSteps, scopesOf, type BudgetOutcome, type BudgetStep } from './budget-writes';
import { budgets, reservations } from './schema';

/**
 * What is left of each tenant's and project's budget, remembered briefly: routing reads it for
 * every task that could use a paid engine, and it is only a hint there (the reservation is the
 * guard, and a refused one falls back to the next engine). A local write replaces the hint with
 * the totals it wrote (`learn`); changes made by other replicas show within `ttlMs`.
 */
export class RemainingBudgetCache {
  private readonly entries = new Map<string, { value: number | undefined; at: number }>();

  constructor(private readonly ttlMs = 1000) {}

  get(tenantId: string, projectId: string): { value: number | undefined } | undefined {
    const entry = this.entries.get(`${tenantId}\u0000${projectId}`);
    return entry && Date.now() - entry.at < this.ttlMs ? entry : undefined;
  }

  set(tenantId: string, projectId: string, value: number | undefined): void {
    if (this.entries.size > 10_000) this.entries.clear();
    this.entries.set(`${tenantId}\u0000${projectId}`, { value, at: Date.now() });
  }

  forgetTenant(tenantId: string): void {
    for (const key of this.entries.keys())
      if (key.startsWith(`${tenantId}\u0000`)) this.entries.delete(key);
  }

  /**
   * What a write left: its project's remaining budget, as the write computed it. The tenant's
   * other projects are forgotten (a tenant-wide total they share may have changed).
   */
  learn(tenantId: string, remaining: { projectId: string; usd: number | undefined }): void {
    this.forgetTenant(tenantId);
    this.set(tenantId, remaining.projectId, remaining.usd);
  }
}

export class PostgresBudgets extends TenantRepository implements BudgetPort {
  /** Steps of concurrent requests share one statement (see applyBudgetSteps). */
  private readonly steps: TenantGroupCommit<BudgetStep, BudgetOutcome, Db>;

  constructor(
    db: Db,
    readonly remainingCache = new RemainingBudgetCache(),
  ) {
    super(db);
    this.steps = TenantGroupCommit.perStatement(
      db,
      async (db, pending) => {
        // orc_budget_apply is one tenant's: a statement per tenant of the batch, side by side.
        const tenants = [...new Set(pending.map((p) => p.tenantId))];
        const outcomes = await Promise.all(
          tenants.map((tenantId) =>
            applyBudgetSteps(
              db,
              tenantId,
              pending.filter((p) => p.tenantId === tenantId).map((p) => p.op),
            ),
          ),
        );
        const next = tenants.map(() => 0);
        return pending.map((p) => {
          const t = tenants.indexOf(p.tenantId);
          return outcomes[t]![next[t]!++]!;
        });
      },
      { keyOf: (step) => step.requestId },
    );
  }

  async remaining(projectId: string): Promise<number | undefined> {
    const { tenantId } = requireTenant();
    const cached = this.remainingCache.get(tenantId, projectId);
    if (cached) return cached.value;
    const value = await this.tx(async (tx) => {
      const rows = await tx
        .select()
        .from(budgets)
        .where(sql`${budgets.projectId} in ${scopesOf(projectId)}`);
      if (rows.length === 0) return undefined;
      return Math.min(...rows.map((r) => r.limitUsd - r.reservedUsd - r.committedUsd));
    });
    this.remainingCache.set(tenantId, projectId, value);
    return value;
  }

  async reserve(requestId: string, projectId: string, amountUsd: number): Promise<Reservation> {
    if (!(amountUsd >= 0) || !Number.isFinite(amountUsd))
      throw AionError.validation('amount_usd must be a non-negative number');
    return this.apply({ kind: 'reserve', requestId, projectId, amountUsd });
  }

  async commit(requestId: string, actualUsd: number): Promise<Reservation> {
    if (!(actualUsd >= 0) || !Number.isFinite(actualUsd))
      throw AionError.validation('actual_usd must be a non-negative number');
    return this.apply({ kind: 'commit', requestId, actualUsd });
  }

  async release(requestId: string): Promise<Reservation> {
    return this.apply({ kind: 'release', requestId });
  }

  private async apply(step: BudgetStep): Promise<Reservation> {
    const { tenantId } = requireTenant();
    const outcome = await this.steps.submit(tenantId, step);
    if ('error' in outcome) {
      this.remainingCache.forgetTenant(tenantId);
      throw outcome.error;
    }
    this.remainingCache.learn(tenantId, outcome.remaining);
    return outcome.reservation;
  }

  async state(projectId: string): Promise<BudgetState> {
    return this.tx(async (tx) => {
      const [row] = await tx.select().from(budgets).where(eq(budgets.projectId, projectId));
      if (!row) {
        const [spent] = await tx
          .select({
            reserved: sql<number>`coalesce(sum(case when status = 'RESERVED' then amount_usd end), 0)::float8`,
            committed: sql<number>`coalesce(sum(committed_usd), 0)::float8`,
          })
          .from(reservations)
          .where(projectId ? eq(reservations.projectId, projectId) : undefined);
        return {
          projectId,
          limitUsd: undefined,
          reservedUsd: spent?.reserved ?? 0,
          committedUsd: spent?.committed ?? 0,
          remainingUsd: undefined,
        };
      }
      return {
        projectId,
        limitUsd: row.limitUsd,
        reservedUsd: row.reservedUsd,
        committedUsd: row.committedUsd,
        remainingUsd: row.limitUsd - row.reservedUsd - row.committedUsd,
      };
    });
  }

  async setLimit(projectId: string, limitUsd: number): Promise<BudgetState> {
    if (!(limitUsd >= 0) || !Number.isFinite(limitUsd))
      throw AionError.validation('limit_usd must be a non-negative number');
    await this.tx(async (tx, tenantId) => {
      await tx
        .insert(budgets)
        .values({ tenantId, projectId, limitUsd })
        .onConflictDoUpdate({
          target: [budgets.tenantId, budgets.projectId],
          set: { limitUsd, updatedAt: new Date() },
        });
    });
    this.remainingCache.forgetTenant(requireTenant().tenantId);
    return this.state(projectId);
  }
}
