import type { JsonObject } from '@bufbuild/protobuf';
import { withTenant, type Db } from '@aion/db';
import { requireTenant } from '@aion/tenancy';
import type { OutboxWriter } from './outbox';

/**
 * Operator and admin actions on `audit.activity`, written through the service's outbox in the
 * acting principal's tenant. `action` is permission-style (`api_key.created`); its first part is
 * the resource type.
 */
/** Where a service records who did what to which resource (audit.activity). */
export interface AuditRecorder {
  record(
    action: string,
    resourceId: string,
    details?: Record<string, unknown>,
    outcome?: 'success' | 'denied' | 'failure',
  ): Promise<void>;
}

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
}
