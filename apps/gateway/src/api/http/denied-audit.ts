import type { Principal } from '@aion/auth';
import type { AuditRecorder } from '@aion/events';
import type { Logger } from '@aion/telemetry';
import type { Route } from './routing/route';

const WINDOW_MS = 60_000;
const REMEMBERED = 10_000;

/**
 * Records a refused request (the credential lacks the route's permission) on audit.activity as
 * `access.denied`, so the trail holds denied attempts too. One record per credential and
 * operation a minute: a key hammering a route it may not call cannot flood the trail.
 */
export function deniedAudit(
  audit: Pick<AuditRecorder, 'record'>,
  logger: Logger,
): (route: Route, principal: Principal) => void {
  const last = new Map<string, number>();
  return (route, principal) => {
    const key = `${principal.tenantId}:${principal.keyId ?? principal.subject}:${route.operationId}`;
    const now = Date.now();
    if (now - (last.get(key) ?? 0) < WINDOW_MS) return;
    last.delete(key);
    last.set(key, now);
    if (last.size > REMEMBERED) last.delete(last.keys().next().value!);
    // Runs in the request's tenant context; the 403 does not wait for it.
    void audit
      .record(
        'access.denied',
        route.operationId,
        { method: route.method.toUpperCase(), path: route.path, permission: route.access },
        'denied',
      )
      .catch((err: unknown) =>
        logger.warn('could not record a denied request', {
          operation: route.operationId,
          reason: err instanceof Error ? err.message : String(err),
        }),
      );
  };
}
