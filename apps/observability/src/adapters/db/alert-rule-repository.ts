import { eq, sql } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { type Db, TenantRepository } from '@aion/db';
import { AionError } from '@aion/errors';
import type { OutboxWriter } from '@aion/events';
import type { AlertRule, AlertRuleInput, AlertRuleStore } from '../../core/alert-rules';
import type { PageWindow } from '../../core/model';
import { alertRuleProto } from '../../proto';
import { pageByName } from './pages';
import { alertRules } from './schema';

type Row = typeof alertRules.$inferSelect;
const toRule = (r: Row): AlertRule => ({
  ...r,
  severity: r.severity as AlertRule['severity'],
  syncStatus: r.syncStatus as AlertRule['syncStatus'],
});
const nameTaken = (name: string) =>
  AionError.conflict(`an alert rule named ${name} already exists`);

/**
 * Custom alert rules in PostgreSQL (RLS by tenant); a change sets the rule back to pending (it is
 * not in Prometheus as it now reads) and is an event on the outbox.
 */
export class PostgresAlertRules extends TenantRepository implements AlertRuleStore {
  constructor(
    db: Db,
    private readonly outbox: OutboxWriter,
  ) {
    super(db);
  }

  page(window: PageWindow) {
    return this.tx((tx) => pageByName(tx, alertRules, alertRules.name, window, toRule));
  }

  get(id: string) {
    return this.tx(async (tx) => {
      const [row] = await tx.select().from(alertRules).where(eq(alertRules.id, id));
      return row && toRule(row);
    });
  }

  create(input: AlertRuleInput) {
    return this.tx(async (tx, tenantId) => {
      const id = randomUUID();
      const [row] = await tx
        .insert(alertRules)
        .values({ id, tenantId, ...input })
        .onConflictDoNothing()
        .returning();
      if (!row) throw nameTaken(input.name);
      const rule = toRule(row);
      await this.outbox.add(tx, {
        type: 'alert_rule.created',
        key: id,
        payload: { rule: alertRuleProto(rule) },
      });
      return rule;
    });
  }

  update(id: string, input: AlertRuleInput) {
    return this.tx(async (tx) => {
      const [clash] = await tx
        .select({ id: alertRules.id })
        .from(alertRules)
        .where(eq(alertRules.name, input.name));
      if (clash && clash.id !== id) throw nameTaken(input.name);
      const [row] = await tx
        .update(alertRules)
        .set({ ...input, syncStatus: 'pending', syncError: '', updatedAt: sql`now()` })
        .where(eq(alertRules.id, id))
        .returning();
      if (!row) return undefined;
      const rule = toRule(row);
      await this.outbox.add(tx, {
        type: 'alert_rule.updated',
        key: id,
        payload: { rule: alertRuleProto(rule) },
      });
      return rule;
    });
  }

  markSync(status: 'synced' | 'failed', error: string) {
    return this.tx(async (tx) => {
      await tx.update(alertRules).set({ syncStatus: status, syncError: error });
    });
  }

  remove(id: string) {
    return this.tx(async (tx) => {
      const deleted = await tx
        .delete(alertRules)
        .where(eq(alertRules.id, id))
        .returning({ id: alertRules.id });
      if (!deleted.length) return false;
      await this.outbox.add(tx, { type: 'alert_rule.deleted', key: id, payload: { ruleId: id } });
      return true;
    });
  }
}
