/** Stops whatever the global setup started (nothing, for servers given by URL). */
export default async function globalTeardown(): Promise<void> {
  await globalThis.__AION_INFRA__?.stop();
  globalThis.__AION_INFRA__ = undefined;
}
