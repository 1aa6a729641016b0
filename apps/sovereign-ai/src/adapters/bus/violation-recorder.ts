import { payloadOf, TOPICS, type EventBus } from '@aion/events';
import { subscriptionWorker, type BackgroundWorker } from '@aion/runtime';
import type { Logger } from '@aion/telemetry';
import { runWithTenant } from '@aion/tenancy';
import { DATA_CLASSES } from '../../core/model';
import type { DecisionLog } from '../../core/ports';
import { fromEnum } from '../../proto';

const OWN_SOURCE = 'aion/sovereign-ai';

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
