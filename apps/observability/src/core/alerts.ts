import { AionError } from '@aion/errors';
import { isValidTenantId } from '@aion/tenancy';

/** One alert of an Alertmanager webhook notification. */
export interface AlertNotification {
  fingerprint: string;
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: Date;
  /** Set when resolved. */
  endsAt?: Date;
}

/** An alert Alertmanager holds now. */
export interface ActiveAlert {
  fingerprint: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: Date;
  state: 'active' | 'suppressed';
}

/** What the store did with a notification: a change of state is published, a repeat is not. */
export type AlertTransition = 'fired' | 'resolved' | 'unchanged';

/** Alerts of the tenant in context; a transition publishes its event in the same transaction. */
export interface AlertStore {
  record(alert: AlertNotification): Promise<AlertTransition>;
}

/** Alertmanager, read for one tenant's alerts (the tenant matcher is applied by the adapter). */
export interface AlertSource {
  active(tenantId: string): Promise<ActiveAlert[]>;
}

/** Runs `fn` as the tenant an alert belongs to (its transaction and events are that tenant's). */
export type AsTenant = <T>(tenantId: string, fn: () => Promise<T>) => Promise<T>;

export const TENANT_LABEL = 'tenant_id';

export interface ReceiveResult {
  fired: number;
  resolved: number;
  unchanged: number;
  /** Alerts without a (valid) tenant_id label: platform alerts, no tenant's to publish. */
  unowned: number;
}

/**
 * Alerts as Alertmanager reports them: each is recorded for the tenant its `tenant_id` label
 * names, and published (alert.fired, alert.resolved) when its state changed.
 */
export class AlertService {
  constructor(
    private readonly store: AlertStore,
    private readonly source: AlertSource,
    private readonly asTenant: AsTenant,
  ) {}

  async receive(notifications: AlertNotification[]): Promise<ReceiveResult> {
    const result: ReceiveResult = { fired: 0, resolved: 0, unchanged: 0, unowned: 0 };
    for (const alert of notifications) {
      const tenantId = alert.labels[TENANT_LABEL];
      if (!tenantId || !isValidTenantId(tenantId)) {
        result.unowned++;
        continue;
      }
      result[await this.asTenant(tenantId, () => this.store.record(alert))]++;
    }
    return result;
  }

  /** The tenant's active alerts; never another tenant's, whatever Alertmanager answers. */
  async active(tenantId: string): Promise<ActiveAlert[]> {
    if (!tenantId) throw new AionError('auth.forbidden', 'alerts are read for a tenant');
    const alerts = await this.source.active(tenantId);
    return alerts.filter((a) => a.labels[TENANT_LABEL] === tenantId);
  }
}
