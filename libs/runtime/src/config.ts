import {
  loadServiceConfig,
  serviceConfigSpec,
  type ConfigOf,
  type ConfigSpec,
  type InfraNeeds,
  type ServiceName,
  SERVICE_PREFIXES,
  sharedConfigSpec,
} from '@aion/config';

type BaseSpec = typeof sharedConfigSpec & ReturnType<typeof serviceConfigSpec>;

/** What every service's config has: shared variables plus its own ports and shutdown bound. */
export type BaseServiceConfig = ConfigOf<BaseSpec>;

/**
 * Default ports: the gateway is the public edge on 8080 (AION_GATEWAY_PORT, as the quick start
 * names it, is another name for its HTTP port); services get their own pairs.
 */
export const DEFAULT_PORTS: Record<
  ServiceName,
  { httpPort: number; grpcPort: number; httpPortAlias?: string; opsPort?: number }
> = {
  gateway: { httpPort: 8080, grpcPort: 50050, httpPortAlias: 'AION_GATEWAY_PORT', opsPort: 9080 },
  orchestrator: { httpPort: 8081, grpcPort: 50051 },
  'sovereign-ai': { httpPort: 8082, grpcPort: 50052 },
  'data-pipeline': { httpPort: 8083, grpcPort: 50053 },
  observability: { httpPort: 8084, grpcPort: 50054 },
  'module-host': { httpPort: 8085, grpcPort: 50055 },
};

/**
 * Services whose gRPC port faces clients outside the platform (the gateway's public API, with its
 * own AION_GATEWAY_GRPC_TLS_*): the mutual TLS between services covers only their outgoing calls.
 */
export const PUBLIC_GRPC_SERVICES: readonly ServiceName[] = ['gateway'];

/** Loads and validates a service's configuration at startup: one error lists every bad variable. */
export function loadConfigFor<S extends ConfigSpec>(
  service: ServiceName,
  extra: S,
  needs: InfraNeeds,
  env: NodeJS.ProcessEnv = process.env,
) {
  const config = loadServiceConfig(
    { ...serviceConfigSpec(service, DEFAULT_PORTS[service]), ...extra },
    needs,
    env,
  );
  // An ephemeral HTTP port (tests, several instances on one machine) gets an ephemeral ops port.
  if (
    config.httpPort === 0 &&
    config.opsPort !== undefined &&
    env[`${SERVICE_PREFIXES[service]}OPS_PORT`] === undefined
  )
    return { ...config, opsPort: 0 };
  return config;
}
