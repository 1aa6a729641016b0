import {
  defineService,
  resolveMigrationsFolder,
  type EmbeddedShared,
  type ServiceLifecycle,
} from '@aion/runtime';
import { outbox } from './adapters/db/schema';
import { gatewayInfraNeeds, type GatewayConfig } from './config';

/**
 * Composition root of the gateway service (the public edge: REST, SSE and WebSocket over the services' gRPC APIs).
 * Tests, the embedded launcher and main.ts all start it through here.
 */
export function createGatewayService(
  config: GatewayConfig,
  embedded?: { shared: EmbeddedShared; internalTokenSecret: string },
): ServiceLifecycle {
  return defineService({
    service: 'gateway',
    config,
    needs: {
      database: { migrationsFolder: resolveMigrationsFolder(__dirname) },
      bus: gatewayInfraNeeds.kafka,
      redis: true,
    },
    outbox,
    ...(embedded ? { embedded } : {}),
  });
}
