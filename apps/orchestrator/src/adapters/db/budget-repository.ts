import { and, eq, sql } from 'drizzle-orm';
import { TenantRepository } from '@aion/db';
import { AionError } from '@aion/errors';
import type { BudgetPort, BudgetState, Reservation } from '../../core/budget';
import { budgets, reservations } from './schema';

const UNIQUE_VIOLATION = '23505';

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } };
  return e.code === UNIQUE_VIOLATION || e.cause?.code === UNIQUE_VIOLATION;
}

function toReservation(row: typeof reservations.$inferSelect): Reservation {
  return {
    requestId: row.requestId,
    projectId: row.projectId,
    amountUsd: row.amountUsd,
    committedUsd: row.committedUsd,
    status: row.status as Reservation['status'],
  };
}

/** The budget rows a project's spending counts against: the tenant's and the project's own. */
const scopes = (projectId: string) => (projectId ? ['', projectId] : ['']);

export class PostgresBudgets extends TenantRepository implements BudgetPort {
  async remaining(projectId: string): Promise<number | undefined> {
    return this.tx(async (tx) => {
      const rows = await tx
        .select()
        .from(budgets)
        .where(sql`${budgets.projectId} in ${scopes(projectId)}`);
      if (rows.length === 0) return undefined;
      return Math.min(...rows.map((r) => r.limitUsd - r.reservedUsd - r.committedUsd));
    });
  }

  async reserve(requestId: string, projectId: string, amountUsd: number): Promise<Reservation> {
    if (!(amountUsd >= 0) || !Number.isFinite(amountUsd))
      throw AionError.validation('amount_usd must be a non-negative number');
    try {
      return await this.reserveOnce(requestId, projectId, amountUsd);
    } catch (err) {
      // A concurrent reserve with the same request id won the insert: answer with its reservation.
      if (isUniqueViolation(err)) return this.reserveOnce(requestId, projectId, amountUsd);
      throw err;
    }
  }

  private reserveOnce(
    requestId: string,
    projectId: string,
    amountUsd: number,
  ): Promise<Reservation> {
    return this.tx(async (tx, tenantId) => {
      const [existing] = await tx
        .select()
        .from(reservations)
        .where(eq(reservations.requestId, requestId))
        .for('update');
      if (existing && (existing.status !== 'RESERVED' || existing.amountUsd >= amountUsd))
        return toReservation(existing);
      if (existing && existing.projectId !== projectId)
        throw AionError.conflict(`reservation ${requestId} belongs to another project`);
      const delta = amountUsd - (existing?.amountUsd ?? 0);
      // The reservation row first, the shared budget rows last: their row locks (every request
      // of the tenant waits on them) are then held only until the commit right after.
      const [row] = existing
        ? await tx
            .update(reservations)
            .set({ amountUsd, updatedAt: new Date() })
            .where(eq(reservations.requestId, requestId))
            .returning()
        : await tx
            .insert(reservations)
            .values({ tenantId, requestId, projectId, amountUsd, status: 'RESERVED' })
            .returning();
      for (const scope of scopes(projectId)) {
        // The conditional update is the guard: it takes the row lock and admits the delta only
        // within the limit, so concurrent reservations can never overspend. Refusing throws,
        // which rolls the reservation row back too.
        const updated = await tx
          .update(budgets)
          .set({ reservedUsd: sql`${budgets.reservedUsd} + ${delta}`, updatedAt: new Date() })
          .where(
            and(
              eq(budgets.projectId, scope),
              sql`${budgets.reservedUsd} + ${budgets.committedUsd} + ${delta} <= ${budgets.limitUsd}`,
            ),
          )
          .returning({ projectId: budgets.projectId });
        if (updated.length === 0) {
          const [limit] = await tx.select().from(budgets).where(eq(budgets.projectId, scope));
          if (limit) {
            const left = Math.max(0, limit.limitUsd - limit.reservedUsd - limit.committedUsd);
            throw new AionError(
              'budget.exceeded',
              `${scope ? `project ${scope}` : 'tenant'} budget exceeded: $${left.toFixed(6)} left of $${limit.limitUsd}, $${amountUsd.toFixed(6)} requested`,
            );
          }
        }
      }
      return toReservation(row!);
    });
  }

  async commit(requestId: string, actualUsd: number): Promise<Reservation> {
    if (!(actualUsd >= 0) || !Number.isFinite(actualUsd))
      throw AionError.validation('actual_usd must be a non-negative number');
    return this.tx(async (tx) => {
      const [existing] = await tx
        .select()
        .from(reservations)
        .where(eq(reservations.requestId, requestId))
        .for('update');
      if (!existing) throw AionError.notFound('reservation', requestId);
      if (existing.status === 'COMMITTED') return toReservation(existing);
      if (existing.status === 'RELEASED')
        throw AionError.conflict(`reservation ${requestId} was released and cannot be committed`);
      // The shared budget rows last, so their locks are held only until the commit.
      const [row] = await tx
        .update(reservations)
        .set({ status: 'COMMITTED', committedUsd: actualUsd, updatedAt: new Date() })
        .where(eq(reservations.requestId, requestId))
        .returning();
      for (const scope of scopes(existing.projectId)) {
        await tx
          .update(budgets)
          .set({
            reservedUsd: sql`greatest(0, ${budgets.reservedUsd} - ${existing.amountUsd})`,
            committedUsd: sql`${budgets.committedUsd} + ${actualUsd}`,
            updatedAt: new Date(),
          })
          .where(eq(budgets.projectId, scope));
      }
      return toReservation(row!);
    });
  }

  async release(requestId: string): Promise<Reservation> {
    return this.tx(async (tx) => {
      const [existing] = await tx
        .select()
        .from(reservations)
        .where(eq(reservations.requestId, requestId))
        .for('update');
      if (!existing) throw AionError.notFound('reservation', requestId);
      if (existing.status === 'RELEASED') return toReservation(existing);
      if (existing.status === 'COMMITTED')
        throw AionError.conflict(`reservation ${requestId} was committed and cannot be released`);
      // The shared budget rows last, so their locks are held only until the commit.
      const [row] = await tx
        .update(reservations)
        .set({ status: 'RELEASED', updatedAt: new Date() })
        .where(eq(reservations.requestId, requestId))
        .returning();
      for (const scope of scopes(existing.projectId)) {
        await tx
          .update(budgets)
          .set({
            reservedUsd: sql`greatest(0, ${budgets.reservedUsd} - ${existing.amountUsd})`,
            updatedAt: new Date(),
          })
          .where(eq(budgets.projectId, scope));
      }
      return toReservation(row!);
    });
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
    return this.state(projectId);
  }
}
