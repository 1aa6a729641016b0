import { randomUUID } from 'node:crypto';
import { and, asc, count, eq, sql } from 'drizzle-orm';
import { type Db, TenantRepository } from '@aion/db';
import type { OutboxWriter } from '@aion/events';
import type { PageWindow, ResidencyRule, ResidencyRuleInput } from '../../core/model';
import type { DecisionLog, RuleStore } from '../../core/ports';
import { dataContextProto, ruleProto } from '../../proto';
import { residencyDecisions, residencyRules } from './schema';

type RuleRow = typeof residencyRules.$inferSelect;
const toRule = (r: RuleRow): ResidencyRule => ({
  ...r,
  tier: r.tier as ResidencyRule['tier'],
  action: r.action as ResidencyRule['action'],
});
const ORDER = [asc(residencyRules.priority), asc(residencyRules.createdAt), asc(residencyRules.id)];

/** Residency rules in PostgreSQL (RLS by tenant), each change with its event in the same transaction. */
export class PostgresRules extends TenantRepository implements RuleStore {
  constructor(
    db: Db,
    private readonly outbox: OutboxWriter,
  ) {
    super(db);
  }

  all(): Promise<ResidencyRule[]> {
    return this.tx(async (tx) =>
      (
        await tx
          .select()
          .from(residencyRules)
          .orderBy(...ORDER)
      ).map(toRule),
    );
  }

  page(window: PageWindow) {
    return this.tx(async (tx) => {
      const rows = await tx
        .select()
        .from(residencyRules)
        .orderBy(...ORDER)
        .limit(window.limit)
        .offset(window.offset);
      const [total] = await tx.select({ n: count() }).from(residencyRules);
      return { items: rows.map(toRule), total: total?.n ?? 0 };
    });
  }

  get(id: string) {
    return this.tx(async (tx) => {
      const [row] = await tx.select().from(residencyRules).where(eq(residencyRules.id, id));
      return row && toRule(row);
    });
  }

  create(input: ResidencyRuleInput, maxRules: number): Promise<ResidencyRule | 'limit'> {
    return this.tx(async (tx, tenantId) => {
      // One writer per tenant at a time, so two concurrent creates cannot both pass the limit.
      await tx.execute(
        sql`select pg_advisory_xact_lock(hashtextextended(${`sov_rules:${tenantId}`}, 0))`,
      );
      const [existing] = await tx.select({ n: count() }).from(residencyRules);
      if ((existing?.n ?? 0) >= maxRules) return 'limit';
      const [row] = await tx
        .insert(residencyRules)
        .values({ id: randomUUID(), tenantId, ...input })
        .returning();
      const rule = toRule(row!);
      await this.outbox.add(tx, {
        type: 'residency.rule_created',
        key: rule.id,
        payload: { rule: ruleProto(rule) },
      });
      return rule;
    });
  }

  update(id: string, input: ResidencyRuleInput) {
    return this.tx(async (tx) => {
      const [row] = await tx
        .update(residencyRules)
        .set({ ...input, updatedAt: sql`now()` })
        .where(eq(residencyRules.id, id))
        .returning();
      if (!row) return undefined;
      const rule = toRule(row);
      await this.outbox.add(tx, {
        type: 'residency.rule_updated',
        key: rule.id,
        payload: { rule: ruleProto(rule) },
      });
      return rule;
    });
  }

  remove(id: string) {
    return this.tx(async (tx) => {
      const deleted = await tx
        .delete(residencyRules)
        .where(eq(residencyRules.id, id))
        .returning({ id: residencyRules.id });
      if (deleted.length === 0) return false;
      await this.outbox.add(tx, {
        type: 'residency.rule_deleted',
        key: id,
        payload: { ruleId: id },
      });
      return true;
    });
  }
}

/** Enforcement decisions; a refused one is also a residency.violation event. */
export class PostgresDecisionLog extends TenantRepository implements DecisionLog {
  constructor(
    db: Db,
    private readonly outbox: OutboxWriter,
  ) {
    super(db);
  }

  record(d: Parameters<DecisionLog['record']>[0]): Promise<void> {
    return this.tx(async (tx, tenantId) => {
      const inserted = await tx
        .insert(residencyDecisions)
        .values({
          tenantId,
          taskId: d.taskId,
          dataJurisdiction: d.dataJurisdiction,
          classification: d.classification,
          attempted: d.attempted,
          ruleId: d.ruleId,
          allowed: d.allowed,
          reason: d.reason,
          eventId: d.eventId ?? null,
        })
        .onConflictDoNothing({ target: residencyDecisions.eventId })
        .returning({ seq: residencyDecisions.seq });
      // Violations learnt from another service's event are not published again.
      if (inserted.length && !d.allowed && !d.eventId)
        await this.outbox.add(tx, {
          type: 'residency.violation',
          key: d.taskId || d.ruleId,
          payload: {
            taskId: d.taskId,
            dataContext: dataContextProto({
              jurisdiction: d.dataJurisdiction,
              classification: d.classification as 'none',
            }),
            attemptedJurisdictions: d.attempted,
            decidedByRule: d.ruleId,
            reason: d.reason,
          },
        });
    });
  }

  lastDay() {
    return this.tx(async (tx) => {
      const [row] = await tx
        .select({
          decisions: count(),
          violations: sql<number>`count(*) filter (where not ${residencyDecisions.allowed})::int`,
        })
        .from(residencyDecisions)
        .where(and(sql`${residencyDecisions.createdAt} > now() - interval '24 hours'`));
      return { decisions: row?.decisions ?? 0, violations: row?.violations ?? 0 };
    });
  }
}
