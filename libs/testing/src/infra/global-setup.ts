import { startInfra, type InfraHandle } from './stack';

declare global {
  var __AION_INFRA__: InfraHandle | undefined;
}

/** Jest global setup for integration tests: real PostgreSQL, Redis and Kafka for every worker. */
export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const handle = await startInfra({
    log: (line) => process.stderr.write(`[aion-infra] ${line}\n`),
  });
  globalThis.__AION_INFRA__ = handle;
  Object.assign(process.env, handle.state.env);
  process.stderr.write(
    `[aion-infra] ready in ${Date.now() - started} ms (postgres=${handle.state.provider.postgres}, redis=${handle.state.provider.redis}, kafka=${handle.state.provider.kafka})\n`,
  );
}
