import { and, eq, sql } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { type Db, TenantRepository } from '@aion/db';
import type { OutboxWriter } from '@aion/events';
import type { AlertNotification, AlertStore, AlertTransition } from '../../core/alerts';
import { alerts } from './schema';

const number = (value: string | undefined) => {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
};

/**
 * Alert firings in PostgreSQL (RLS by tenant). A firing is its fingerprint and start; the event of
 * a change carries the firing's id as correlation id, so alert.fired and alert.resolved pair up.
 */
export class PostgresAlerts extends TenantRepository implements AlertStore {
  constructor(
    db: Db,
    private readonly outbox: OutboxWriter,
  ) {
    super(db);
  }

  record(alert: AlertNotification): Promise<AlertTransition> {
    return this.tx(async (tx, tenantId) => {
      const [current] = await tx
        .select()
        .from(alerts)
        .where(and(eq(alerts.fingerprint, alert.fingerprint), eq(alerts.startedAt, alert.startsAt)))
        .for('update');
      if (current?.state === alert.status) return 'unchanged';
      const resolved = alert.status === 'resolved';
      const row = {
        state: alert.status,
        labels: alert.labels,
        annotations: alert.annotations,
        resolvedAt: resolved ? (alert.endsAt ?? new Date()) : null,
      };
      const id = current?.id ?? randomUUID();
      if (current)
        await tx
          .update(alerts)
          .set({ ...row, updatedAt: sql`now()` })
          .where(eq(alerts.id, id));
      else
        await tx.insert(alerts).values({
          id,
          tenantId,
          fingerprint: alert.fingerprint,
          alertname: alert.labels['alertname'] ?? '',
          sloId: alert.labels['aion_slo_id'] ?? '',
          severity: alert.labels['severity'] ?? '',
          burnRate: number(alert.labels['burn_rate']),
          startedAt: alert.startsAt,
          ...row,
        });
      await this.outbox.add(tx, {
        type: resolved ? 'alert.resolved' : 'alert.fired',
        key: alert.fingerprint,
        correlationId: id,
        payload: {
          alertRuleId: alert.labels['aion_alert_rule_id'] ?? '',
          sloId: alert.labels['aion_slo_id'] ?? '',
          firing: !resolved,
          burnRate: number(alert.labels['burn_rate']),
          summary: alert.annotations['summary'] ?? '',
          labels: alert.labels,
        },
      });
      return resolved ? 'resolved' : 'fired';
    });
  }
}
