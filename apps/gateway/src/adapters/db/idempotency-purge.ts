import type { BackgroundWorker } from '@aion/runtime';
import type { Logger } from '@aion/telemetry';
import type { IdempotencyStore } from '../../core/idempotency';

/** Rows one statement deletes: short transactions, however many keys expired at once. */
const BATCH = 1_000;

/**
 * Deletes expired Idempotency-Key records every `everyMs`. Every replica runs it; deleting the
 * same expired rows twice is harmless. Until it runs, an expired record already counts as absent.
 */
export function idempotencyPurge(
  store: IdempotencyStore,
  logger: Logger,
  everyMs = 10 * 60_000,
): BackgroundWorker {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const purge = async () => {
    try {
      let purged = 0;
      for (let batch = BATCH; batch === BATCH; purged += batch)
        batch = await store.purgeExpired(BATCH);
      if (purged) logger.info('purged expired Idempotency-Keys', { count: purged });
    } catch (err) {
      // The next round tries again; expired records are ignored meanwhile.
      logger.warn('could not purge expired Idempotency-Keys', {
        reason: err instanceof Error ? err.message : String(err),
      });
    }
  };
  return {
    name: 'idempotency-purge',
    start: () => {
      timer = setInterval(() => {
        running = running.then(purge);
      }, everyMs);
      timer.unref();
    },
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
