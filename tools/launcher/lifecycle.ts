import type { RunningService } from '@aion/runtime';
import type { Logger } from '@aion/telemetry';

/**
 * Stops the started services, last started first, on SIGTERM or SIGINT, then runs `after` (what
 * the launcher opened for them) and exits; a second signal while stopping exits at once.
 */
export function stopOnSignal(
  started: readonly [string, RunningService][],
  logger: Logger,
  after: () => Promise<void> = async () => undefined,
): void {
  let stopping = false;
  const stopAll = async (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info('stopping', { signal });
    for (const [, service] of [...started].reverse()) await service.stop();
    await after();
    process.exit(0);
  };
  process.on('SIGTERM', (s) => void stopAll(s));
  process.on('SIGINT', (s) => void stopAll(s));
}

/** The ports each started service listens on, for the "running" log line. */
export const portsOf = (started: readonly [string, RunningService][]) =>
  Object.fromEntries(started.map(([name, s]) => [name, { http: s.httpPort, grpc: s.grpcPort }]));
