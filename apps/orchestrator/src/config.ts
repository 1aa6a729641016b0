import { loadConfigFor } from '@aion/runtime';

/** What the orchestrator service needs in distributed mode; embedded mode stands in for all of it. */
export const orchestratorInfraNeeds = { database: true, redis: true, kafka: true };

/** Validated at startup from AION_ORCHESTRATOR_* and the shared variables; one error lists every problem. */
export function loadOrchestratorConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfigFor('orchestrator', {}, orchestratorInfraNeeds, env);
}

export type OrchestratorConfig = ReturnType<typeof loadOrchestratorConfig>;
