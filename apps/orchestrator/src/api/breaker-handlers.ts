import type { Principal } from '@aion/auth';
import { AionError } from '@aion/errors';
import type { CallContext } from '@aion/grpc';
import type { BreakerRegistry } from '@aion/resilience';
import type { AuditRecorder } from '@aion/events';

/**
 * Engine breakers are platform-wide: every tenant's tasks share an engine, so one breaker state
 * serves all of them. Any tenant may see that state and its counts (why its tasks avoid an
 * engine); only an admin of the platform tenant (the bootstrap admin's tenant) may reset them,
 * and only they see the last failure text, which can come from another tenant's task.
 */
export function isPlatformAdmin(principal: Principal | undefined, platformTenant: string): boolean {
  return principal?.tenantId === platformTenant && principal.roles.includes('admin');
}

/** ListCircuitBreakers and ResetCircuitBreakers of aion.v1.OrchestratorAdminService. */
export function breakerHandlers(
  breakers: BreakerRegistry,
  // Breakers are platform-wide, not the tenant's rows: their reset is recorded on its own.
  audit: Pick<AuditRecorder, 'record'>,
  platformTenant: string,
) {
  return {
    handlers: {
      listCircuitBreakers: async (_req: unknown, ctx: CallContext) => {
        // The cluster's state as of now; if the table cannot be read, this replica's latest view.
        await breakers.sync().catch(() => undefined);
        const full = isPlatformAdmin(ctx.principal, platformTenant);
        return {
          breakers: breakers.list().map((b) => ({
            ...b,
            successes: BigInt(b.successes),
            failures: BigInt(b.failures),
            rejections: BigInt(b.rejections),
            opened: BigInt(b.opened),
            lastFailure: full ? (b.lastFailure ?? '') : '',
          })),
        };
      },
      resetCircuitBreakers: async (_req: unknown, ctx: CallContext) => {
        if (!isPlatformAdmin(ctx.principal, platformTenant))
          throw AionError.forbidden(
            'circuit breakers are shared by every tenant: only an admin of the platform tenant may reset them',
          );
        const reset = await breakers.resetAll();
        await audit.record('circuit_breakers.reset_all', 'circuit-breakers', { reset });
        return { reset };
      },
    },
    permissions: {
      listCircuitBreakers: 'platform:read',
      resetCircuitBreakers: 'operations:manage',
    },
  } as const;
}
