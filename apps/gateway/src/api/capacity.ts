import type { Principal } from '@aion/auth';
import { AionError } from '@aion/errors';

export interface CapacityLimits {
  /** For the whole gateway instance. */
  total: number;
  /** For one tenant. */
  perTenant: number;
  /** For one credential (API key, or user) of a tenant. */
  perKey: number;
}

export type Refusal = 'total' | 'tenant' | 'key';

/**
 * Slots shared fairly: a caller takes one only while the instance, its tenant and its credential
 * are each under their bound, so one tenant (or one key) can never hold all of them.
 */
export class Capacity {
  private total = 0;
  private readonly held = new Map<string, number>();

  constructor(readonly limits: CapacityLimits) {}

  /** A release function, or why there is no slot. Release is idempotent. */
  acquire(principal: Principal): { release: () => void } | { refused: Refusal } {
    const tenant = `t:${principal.tenantId}`;
    const key = `k:${principal.tenantId}:${principal.keyId ?? principal.subject}`;
    if (this.total >= this.limits.total) return { refused: 'total' };
    if ((this.held.get(tenant) ?? 0) >= this.limits.perTenant) return { refused: 'tenant' };
    if ((this.held.get(key) ?? 0) >= this.limits.perKey) return { refused: 'key' };
    this.total++;
    this.bump(tenant, 1);
    this.bump(key, 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        this.bump(tenant, -1);
        this.bump(key, -1);
      },
    };
  }

  /**
   * A slot, or the error the caller gets: 503 when the instance is full, 429 past the caller's
   * share (both with Retry-After). Returns the release function.
   */
  take(principal: Principal, what: 'requests' | 'streams'): () => void {
    const slot = this.acquire(principal);
    if ('release' in slot) return slot.release;
    throw slot.refused === 'total'
      ? new AionError(
          'service.unavailable',
          `the gateway holds as many ${what} as it can; retry shortly`,
          {
            retryAfterSeconds: 1,
          },
        )
      : new AionError(
          'rate_limit.exceeded',
          `this ${slot.refused} has as many ${what} open as it may; retry shortly`,
          { retryAfterSeconds: 1 },
        );
  }

  /** Slots held now: in all, and by one tenant. */
  inUse(tenantId?: string): number {
    return tenantId === undefined ? this.total : (this.held.get(`t:${tenantId}`) ?? 0);
  }

  private bump(name: string, by: number): void {
    const next = (this.held.get(name) ?? 0) + by;
    if (next === 0) this.held.delete(name);
    else this.held.set(name, next);
  }
}
