import { loadConfigFor } from '@aion/runtime';

/** What the module-host service needs in distributed mode; embedded mode stands in for all of it. */
export const moduleHostInfraNeeds = { database: true, kafka: true };

/** Validated at startup from AION_MODULE_HOST_* and the shared variables; one error lists every problem. */
export function loadModuleHostConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfigFor('module-host', {}, moduleHostInfraNeeds, env);
}

export type ModuleHostConfig = ReturnType<typeof loadModuleHostConfig>;
