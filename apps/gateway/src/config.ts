import { loadConfigFor } from '@aion/runtime';

/** What the gateway service needs in distributed mode; embedded mode stands in for all of it. */
export const gatewayInfraNeeds = { database: true, redis: true, kafka: true };

/** Validated at startup from AION_GATEWAY_* and the shared variables; one error lists every problem. */
export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfigFor('gateway', {}, gatewayInfraNeeds, env);
}

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;
