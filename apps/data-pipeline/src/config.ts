import { loadConfigFor } from '@aion/runtime';

/** What the data-pipeline service needs in distributed mode; embedded mode stands in for all of it. */
export const dataPipelineInfraNeeds = { database: true, kafka: true };

/** Validated at startup from AION_PIPELINE_* and the shared variables; one error lists every problem. */
export function loadDataPipelineConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfigFor('data-pipeline', {}, dataPipelineInfraNeeds, env);
}

export type DataPipelineConfig = ReturnType<typeof loadDataPipelineConfig>;
