import { randomUUID } from 'node:crypto';
import { payloadOf, TOPICS, type EventBus } from '@aion/events';
import { subscriptionWorker, type BackgroundWorker } from '@aion/runtime';
import type { Logger } from '@aion/telemetry';

/**
 * Every gateway replica hears every API-key revocation (`audit.activity`, in a consumer group of
 * its own, from the latest offset) and calls `onRevoked`, so a key revoked on one replica stops
 * its WebSockets (and its cached lookups) on all of them at once, not at the next re-check.
 */
export function revocationListener(deps: {
  bus: EventBus;
  groupPrefix: string;
  onRevoked: (tenantId: string, keyId: string) => Promise<void>;
  logger: Logger;
}): BackgroundWorker {
  return subscriptionWorker(
    'key-revocations',
    async () => {
      await deps.bus.ensureTopics([TOPICS.auditActivity]);
      return deps.bus.subscribe({
        groupId: `${deps.groupPrefix}-${randomUUID()}`,
        topics: [TOPICS.auditActivity],
        fromBeginning: false,
        ephemeral: true,
        handler: async ({ envelope }) => {
          if (envelope.type !== 'audit.recorded' || !envelope.tenantId) return;
          const audit = payloadOf(envelope, 'audit.recorded');
          if (audit.action === 'api_key.revoked' && audit.outcome === 'success')
            await deps.onRevoked(envelope.tenantId, audit.resourceId);
        },
      });
    },
    deps.logger,
  );
}
