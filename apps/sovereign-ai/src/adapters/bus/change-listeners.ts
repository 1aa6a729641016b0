import { randomUUID } from 'node:crypto';
import { payloadOf, TOPICS, type EventBus } from '@aion/events';
import { subscriptionWorker, type BackgroundWorker } from '@aion/runtime';
import type { Logger } from '@aion/telemetry';
import { runWithTenant } from '@aion/tenancy';
import { DATA_CLASSES } from '../../core/model';
import type { DecisionLog } from '../../core/ports';
import { fromEnum } from '../../proto';

const OWN_SOURCE = 'aion/sovereign-ai';

/**
 * Every replica hears every rule and model change (its own consumer group, from the latest
 * offset) and drops that tenant's compiled rules, so a change made on one replica takes effect on
 * all of them within the bus's delivery time.
 */
export function cacheInvalidationWorker(deps: {
  bus: EventBus;
  groupPrefix: string;
  invalidate: (tenantId: string) => void;
  logger: Logger;
}): BackgroundWorker {
  const topics = [TOPICS.sovereignResidency, TOPICS.sovereignRegistry];
  return subscriptionWorker(
    'sovereign-cache-invalidation',
    async () => {
      await deps.bus.ensureTopics(topics);
      return deps.bus.subscribe({
        groupId: `${deps.groupPrefix}-${randomUUID()}`,
        topics,
        fromBeginning: false,
        handler: async (event) => {
          if (event.envelope.tenantId) deps.invalidate(event.envelope.tenantId);
        },
      });
    },
    deps.logger,
  );
}

/**
 * Violations the orchestrator found while routing tasks (residency.violation from another
 * source) are counted with this service's own decisions, once per event id, for the status API.
 */
export function violationRecorderWorker(deps: {
  bus: EventBus;
  decisions: DecisionLog;
  groupId: string;
  logger: Logger;
}): BackgroundWorker {
  return subscriptionWorker(
    'residency-violation-recorder',
    async () => {
      await deps.bus.ensureTopics([TOPICS.sovereignResidency]);
      return deps.bus.subscribe({
        groupId: deps.groupId,
        topics: [TOPICS.sovereignResidency],
        handler: async ({ envelope }) => {
          if (envelope.type !== 'residency.violation' || envelope.source === OWN_SOURCE) return;
          if (!envelope.tenantId) return;
          const v = payloadOf(envelope, 'residency.violation');
          await runWithTenant(
            {
              tenantId: envelope.tenantId,
              subject: 'sovereign-ai',
              roles: [],
              requestId: envelope.correlationId,
            },
            () =>
              deps.decisions.record({
                taskId: v.taskId,
                dataJurisdiction: v.dataContext?.jurisdiction ?? '',
                classification:
                  fromEnum(DATA_CLASSES, v.dataContext?.classification ?? 0) ?? 'none',
                attempted: v.attemptedJurisdictions,
                ruleId: v.decidedByRule,
                allowed: false,
                reason: v.reason,
                eventId: envelope.id,
              }),
          );
        },
      });
    },
    deps.logger,
  );
}
