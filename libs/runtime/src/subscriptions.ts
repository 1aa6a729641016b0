import { randomUUID } from 'node:crypto';
import type { EventBus, Subscription } from '@aion/events';
import type { Logger } from '@aion/telemetry';
import type { BackgroundWorker } from './host';

/**
 * A consumer as a service worker. It subscribes in the background and retries every
 * `retryMs` until the bus answers: a broker that is down at startup delays this consumer, not
 * the service's API.
 */
export function subscriptionWorker(
  name: string,
  subscribe: () => Promise<Subscription>,
  logger: Logger,
  retryMs = 5_000,
): BackgroundWorker {
  let subscription: Subscription | undefined;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;
  const attempt = () => {
    if (stopped) return;
    subscribe()
      .then(async (started) => {
        subscription = started;
        if (stopped) await started.stop();
      })
      .catch((err: unknown) => {
        logger.warn(`${name} could not start; retrying`, {
          reason: err instanceof Error ? err.message : String(err),
        });
        retry = setTimeout(attempt, retryMs);
      });
  };
  return {
    name,
    start: attempt,
    stop: async () => {
      stopped = true;
      clearTimeout(retry);
      await subscription?.stop();
    },
  };
}

/**
 * Change notifications for per-replica caches: every replica hears every event on `topics` in its
 * own consumer group (from the latest offset) and calls `onChange` with the event's tenant, so a
 * change made anywhere clears the caches everywhere. Event types in `ignore` are not changes.
 */
export function tenantChangesWorker(deps: {
  name: string;
  bus: EventBus;
  topics: string[];
  groupPrefix: string;
  onChange: (tenantId: string) => void;
  ignore?: readonly string[];
  logger: Logger;
}): BackgroundWorker {
  return subscriptionWorker(
    deps.name,
    async () => {
      await deps.bus.ensureTopics(deps.topics);
      return deps.bus.subscribe({
        groupId: `${deps.groupPrefix}-${randomUUID()}`,
        topics: deps.topics,
        fromBeginning: false,
        ephemeral: true,
        handler: async ({ envelope }) => {
          if (envelope.tenantId && !deps.ignore?.includes(envelope.type))
            deps.onChange(envelope.tenantId);
        },
      });
    },
    deps.logger,
  );
}
