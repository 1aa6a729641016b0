import { count, desc, eq, sql } from 'drizzle-orm';
import { inTransaction, type Db, TenantRepository, withTenant } from '@aion/db';
import type { Slo } from '../../core/model';
import type { SloEvaluation, SloEvaluationStore } from '../../core/slo-evaluations';
import { sloEvaluations, slos, type EvaluatedAlert } from './schema';

/** The evaluator's view of obs_slos: every tenant's rows, read only (policy obs_slos_evaluator). */
const EVALUATOR_VIEW = sql`select set_config('aion.slo_evaluator', 'on', true)`;

type Row = typeof sloEvaluations.$inferSelect;
const toEvaluation = (r: Row): SloEvaluation => ({
  sloId: r.sloId,
  evaluatedAt: r.evaluatedAt,
  errorRatios: r.errorRatios,
  alerts: r.alerts.map((a) => ({
    ...a,
    longBurnRate: a.longBurnRate ?? undefined,
    shortBurnRate: a.shortBurnRate ?? undefined,
  })),
  budgetRemaining: r.budgetRemaining ?? undefined,
});

/** SLO burn-rate snapshots in PostgreSQL (RLS by tenant). */
export class PostgresSloEvaluations extends TenantRepository implements SloEvaluationStore {
  constructor(db: Db) {
    super(db);
  }

  async allSlos(): Promise<Slo[]> {
    const rows = await inTransaction(this.db, [EVALUATOR_VIEW], (tx) => tx.select().from(slos));
    return rows.map((r) => ({
      ...r,
      sli: r.sli as Slo['sli'],
      service: r.service as Slo['service'],
    }));
  }

  async record(tenantId: string, e: SloEvaluation): Promise<boolean> {
    const alerts: EvaluatedAlert[] = e.alerts.map((a) => ({
      ...a,
      longBurnRate: a.longBurnRate ?? null,
      shortBurnRate: a.shortBurnRate ?? null,
    }));
    const inserted = await withTenant(this.db, tenantId, (tx) =>
      tx
        .insert(sloEvaluations)
        .values({
          tenantId,
          sloId: e.sloId,
          evaluatedAt: e.evaluatedAt,
          errorRatios: e.errorRatios,
          alerts,
          budgetRemaining: e.budgetRemaining ?? null,
        })
        .onConflictDoNothing()
        .returning({ sloId: sloEvaluations.sloId }),
    );
    return inserted.length > 0;
  }

  page(sloId: string, window: { offset: number; limit: number }) {
    return this.tx(async (tx) => {
      const where = eq(sloEvaluations.sloId, sloId);
      const rows = await tx
        .select()
        .from(sloEvaluations)
        .where(where)
        .orderBy(desc(sloEvaluations.evaluatedAt))
        .limit(window.limit)
        .offset(window.offset);
      const [total] = await tx.select({ n: count() }).from(sloEvaluations).where(where);
      return { items: rows.map(toEvaluation), total: total?.n ?? 0 };
    });
  }

  /** Each tenant's snapshots older than their SLO's window (the tenants read as the evaluator). */
  async purge(): Promise<number> {
    const tenants = await inTransaction(this.db, [EVALUATOR_VIEW], (tx) =>
      tx.selectDistinct({ tenantId: slos.tenantId }).from(slos),
    );
    let purged = 0;
    for (const { tenantId } of tenants) {
      const gone = await withTenant(this.db, tenantId, (tx) =>
        tx
          .delete(sloEvaluations)
          .where(
            sql`${sloEvaluations.evaluatedAt} < now() - make_interval(days => (select ${slos.windowDays} from ${slos} where ${slos.id} = ${sloEvaluations.sloId}))`,
          )
          .returning({ sloId: sloEvaluations.sloId }),
      );
      purged += gone.length;
    }
    return purged;
  }
}
