import { loadConfigFor } from '@aion/runtime';

/** What the observability service needs in distributed mode; embedded mode stands in for all of it. */
export const observabilityInfraNeeds = { database: true, kafka: true };

/** Validated at startup from AION_OBSERVABILITY_* and the shared variables; one error lists every problem. */
export function loadObservabilityConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfigFor('observability', {}, observabilityInfraNeeds, env);
}

export type ObservabilityConfig = ReturnType<typeof loadObservabilityConfig>;
