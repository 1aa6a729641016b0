import {
  eventTime,
  InvalidEventError,
  payloadOf,
  TOPICS,
  type EventBus,
  type IncomingEvent,
  type Subscription,
} from '@aion/events';
import { LEDGER_WRITTEN_HEADER, usageEntryOf } from '../db/usage-ledger';
import { subscriptionWorker, type BackgroundWorker } from '@aion/runtime';
import type { Logger } from '@aion/telemetry';
import {
  isAuditOutcome,
  type AuditEntry,
  type AuditLogStore,
  type UsageEntry,
} from '../../core/audit-log';

const at = (event: IncomingEvent) => eventTime(event.envelope) ?? new Date();

/** An audit.recorded event as a trail entry; an unknown outcome is refused, never guessed. */
export function auditEntryFrom(event: IncomingEvent): AuditEntry {
  const p = payloadOf(event.envelope, 'audit.recorded');
  if (!isAuditOutcome(p.outcome))
    throw new InvalidEventError(`audit outcome ${JSON.stringify(p.outcome)} is not known`);
  if (!p.action) throw new InvalidEventError('audit event without an action');
  return {
    eventId: event.envelope.id,
    occurredAt: at(event),
    actor: p.actor,
    action: p.action,
    resourceType: p.resourceType,
    resourceId: p.resourceId,
    outcome: p.outcome,
    details: (p.details ?? {}) as Record<string, unknown>,
    source: event.envelope.source,
    correlationId: event.envelope.correlationId,
  };
}

/** A usage.recorded event as a ledger row. */
export const usageEntryFrom = (event: IncomingEvent): UsageEntry => usageEntryOf(event.envelope);

/**
 * Consumes audit.activity and usage.billing into the tenant's trail and ledger. Rows are keyed by
 * event id, so a redelivery (another replica, a rebalance, a replayed dead letter) changes
 * nothing. Retries for minutes before dead-lettering, since the usual failure is the database.
 */
export async function startAuditRecorder(deps: {
  bus: EventBus;
  store: AuditLogStore;
  logger: Logger;
  groupId: string;
}): Promise<Subscription> {
  const topics = [TOPICS.auditActivity, TOPICS.usageBilling];
  await deps.bus.ensureTopics(topics);
  return deps.bus.subscribe({
    groupId: deps.groupId,
    topics,
    maxAttempts: 20,
    retryBaseMs: 500,
    handler: async (event) => {
      const type = event.envelope.type;
      if (type !== 'audit.recorded' && type !== 'usage.recorded') return;
      if (!event.envelope.tenantId) {
        deps.logger.warn('audit or usage event without a tenant not stored', {
          topic: event.topic,
          offset: event.offset,
          event_id: event.envelope.id,
        });
        return;
      }
      // Written with the task's finish already (usage-ledger.ts): nothing left to record.
      if (type === 'usage.recorded' && event.headers[LEDGER_WRITTEN_HEADER] === 'true') return;
      if (type === 'audit.recorded') await deps.store.recordAudit(auditEntryFrom(event));
      else await deps.store.recordUsage(usageEntryFrom(event));
    },
  });
}

/** The recorder as a service worker (retries until the bus answers). */
export function auditRecorderWorker(deps: {
  bus: EventBus;
  store: AuditLogStore;
  logger: Logger;
  groupId: string;
}): BackgroundWorker {
  return subscriptionWorker('audit-recorder', () => startAuditRecorder(deps), deps.logger);
}
