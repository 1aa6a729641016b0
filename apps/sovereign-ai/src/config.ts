import { loadConfigFor } from '@aion/runtime';

/** What the sovereign-ai service needs in distributed mode; embedded mode stands in for all of it. */
export const sovereignAiInfraNeeds = { database: true, redis: true, kafka: true };

/** Validated at startup from AION_SOVEREIGN_* and the shared variables; one error lists every problem. */
export function loadSovereignAiConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfigFor('sovereign-ai', {}, sovereignAiInfraNeeds, env);
}

export type SovereignAiConfig = ReturnType<typeof loadSovereignAiConfig>;
