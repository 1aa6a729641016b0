import { randomUUID } from 'node:crypto';
import type { ObservabilityService } from '@aion/contracts';
import type { ClientOf } from '@aion/grpc';
import type { BackgroundWorker } from '@aion/runtime';
import type { Logger } from '@aion/telemetry';
import { runWithTenant } from '@aion/tenancy';
import type { ClusterLatency } from '../../core/cluster-latency';

/** The window engine health is read over: long enough for a p95 of a quiet engine. */
const WINDOW_SECONDS = 300;

/**
 * Reads every engine's health from the observability service each interval into the router's
 * ClusterLatency. Engine health is the platform's, read as its operator's observer; a failed
 * read leaves the last reading to age out (the router falls back to its own window).
 */
export function engineHealthWorker(deps: {
  client: Pick<ClientOf<typeof ObservabilityService>, 'getEngineHealth'>;
  latency: ClusterLatency;
  intervalMs: number;
  platformTenant: string;
  logger: Logger;
}): BackgroundWorker & { refresh(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let failing = false;
  const refresh = async () => {
    try {
      const { engines } = await runWithTenant(
        {
          tenantId: deps.platformTenant,
          subject: 'orchestrator',
          roles: ['observer'],
          requestId: randomUUID(),
        },
        () =>
          deps.client.getEngineHealth(
            { windowSeconds: WINDOW_SECONDS },
            { deadlineMs: Math.min(5_000, deps.intervalMs) },
          ),
      );
      deps.latency.learn(
        engines.map((e) => ({
          engine: e.engine,
          p95Ms: e.p95Ms,
          sampleCount: Number(e.sampleCount),
        })),
      );
      if (failing) deps.logger.info('engine health is read from the observability service again');
      failing = false;
    } catch (err) {
      // Logged once per outage, not every interval.
      if (!failing)
        deps.logger.warn('engine health unavailable; routing on this replica’s latency window', {
          reason: err instanceof Error ? err.message : String(err),
        });
      failing = true;
    }
  };
  const tick = () => {
    running = refresh().finally(() => {
      if (!timer) return;
      timer = setTimeout(tick, deps.intervalMs);
      timer.unref();
    });
  };
  return {
    name: 'engine-health',
    refresh,
    start: () => {
      timer = setTimeout(tick, 0);
      timer.unref();
    },
    stop: async () => {
      clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
