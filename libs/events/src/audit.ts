import type { JsonObject } from '@bufbuild/protobuf';
import { inUnitOfWork, withTenant, type Db } from '@aion/db';
import { requireTenant } from '@aion/tenancy';
import type { OutboxWriter } from './outbox';

/** What one audited change did: `action` is permission-style (`api_key.created`). */
export interface AuditEntry {
  action: string;
  resourceId: string;
  details?: Record<string, unknown>;
}

/** Where a service records who did what to which resource (audit.activity). */
export interface AuditRecorder {
  /** A record on its own: refusals, and changes that are not the service's database writes. */
  record(
    action: string,
    resourceId: string,
    details?: Record<string, unknown>,
    outcome?: 'success' | 'denied' | 'failure',
  ): Promise<void>;
  /**
   * Makes `change` and records `entry(result)` in one transaction: the change is never kept
   * without its record, nor the record without the change. `change` writes through the
   * service's tenant-scoped repositories. An entry of `undefined` records nothing (the change
   * turned out to be none, e.g. a refusal the store answered).
   */
  recordChange<T>(
    change: () => Promise<T>,
    entry: (result: T) => AuditEntry | undefined,
  ): Promise<T>;
}

/**
 * Operator and admin actions on `audit.activity`, written through the service's outbox in the
 * acting principal's tenant; the first part of an action is the resource type.
 */
export class AuditTrail implements AuditRecorder {
  constructor(
    private readonly db: Db,
    private readonly writer: OutboxWriter,
  ) {}

  async record(
    action: string,
    resourceId: string,
    details: Record<string, unknown> = {},
    outcome: 'success' | 'denied' | 'failure' = 'success',
  ): Promise<void> {
    const { tenantId, subject } = requireTenant();
    await withTenant(this.db, tenantId, (tx) =>
      this.writer.add(tx, {
        type: 'audit.recorded',
        key: resourceId,
        payload: {
          actor: subject,
          action,
          resourceType: action.split('.')[0] ?? '',
          resourceId,
          outcome,
          details: details as JsonObject,
        },
      }),
    );
  }

  async recordChange<T>(
    change: () => Promise<T>,
    entry: (result: T) => AuditEntry | undefined,
  ): Promise<T> {
    return inUnitOfWork(this.db, requireTenant().tenantId, async () => {
      const result = await change();
      const recorded = entry(result);
      if (recorded) await this.record(recorded.action, recorded.resourceId, recorded.details);
      return result;
    });
  }
}
