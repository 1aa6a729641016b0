import {
  allTopics,
  DLQ_HEADERS,
  DLQ_SUFFIX,
  type EventBus,
  type IncomingEvent,
  type Subscription,
} from '@aion/events';
import { subscriptionWorker, type BackgroundWorker } from '@aion/runtime';
import type { Logger } from '@aion/telemetry';
import type { DeadLetterStore } from '../../core/dead-letters';

const DLQ_HEADER_NAMES = new Set<string>(Object.values(DLQ_HEADERS));

/**
 * Turns a record from a `<topic>.dlq` topic into a dead-letter entry of its event's tenant.
 * The stored record is the original one (DLQ headers stripped), so a replay republishes exactly
 * what the failing consumer received.
 */
export function deadMessageFrom(event: IncomingEvent) {
  const headers = event.headers;
  const originalTopic =
    headers[DLQ_HEADERS.originalTopic] ?? event.topic.slice(0, -DLQ_SUFFIX.length);
  const group = headers[DLQ_HEADERS.consumerGroup] ?? 'unknown';
  const original = Object.fromEntries(
    Object.entries(headers).filter(([name]) => !DLQ_HEADER_NAMES.has(name)),
  );
  const failedAt = new Date(headers[DLQ_HEADERS.failedAt] ?? '');
  return {
    ref: `${originalTopic}/${headers[DLQ_HEADERS.originalPartition] ?? '?'}/${headers[DLQ_HEADERS.originalOffset] ?? event.envelope.id}@${group}`,
    errorMessage: headers[DLQ_HEADERS.error] ?? 'handler failed',
    retryCount: Number(headers[DLQ_HEADERS.attempts] ?? 0) || 0,
    failedAt: Number.isNaN(failedAt.getTime()) ? new Date() : failedAt,
    payload: {
      event_id: event.envelope.id,
      event_type: event.envelope.type,
      source: event.envelope.source,
      key: event.key,
      consumer_group: group,
      correlation_id: event.envelope.correlationId,
    },
    message: {
      topic: originalTopic,
      key: event.key,
      value: event.value,
      headers: original,
      eventId: event.envelope.id,
      eventType: event.envelope.type,
    },
  };
}

/**
 * Consumes every dead-letter topic into the store. It retries for a long time rather than give a
 * record up (the database may be briefly down); records of no tenant stay in the Kafka topic.
 */
export async function startDeadLetterRecorder(deps: {
  bus: EventBus;
  store: DeadLetterStore;
  logger: Logger;
  groupId?: string;
}): Promise<Subscription> {
  const topics = allTopics().filter((t) => t.endsWith(DLQ_SUFFIX));
  await deps.bus.ensureTopics(topics);
  return deps.bus.subscribe({
    groupId: deps.groupId ?? 'orchestrator-dlq-recorder',
    topics,
    maxAttempts: 500,
    retryBaseMs: 500,
    handler: async (event) => {
      if (!event.envelope.tenantId) {
        deps.logger.warn('dead letter without a tenant left in its topic', {
          topic: event.topic,
          offset: event.offset,
          event_id: event.envelope.id,
        });
        return;
      }
      await deps.store.recordMessage(deadMessageFrom(event));
    },
  });
}

/** The recorder as a service worker (retries until the bus answers). */
export function deadLetterRecorderWorker(deps: {
  bus: EventBus;
  store: DeadLetterStore;
  logger: Logger;
  groupId?: string;
}): BackgroundWorker {
  return subscriptionWorker(
    'dead-letter-recorder',
    () => startDeadLetterRecorder(deps),
    deps.logger,
  );
}
