import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Who is acting and for which tenant. Set once from a verified credential at the edge (or from a
 * verified internal token inside a service) and read everywhere else; never from a bare header.
 */
export interface TenantContext {
  tenantId: string;
  /** User id, API key id or service name. */
  subject: string;
  /**
   * The human identity behind the subject (the principal's `owner`): what four-eyes rules
   * compare, so one person's two keys are one person.
   */
  owner: string;
  roles: readonly string[];
  requestId: string;
}

/** A context as it is set: without an owner (a service acting for itself), its subject owns it. */
export type TenantContextInit = Omit<TenantContext, 'owner'> & { owner?: string | undefined };

const storage = new AsyncLocalStorage<TenantContext>();

export function runWithTenant<T>(context: TenantContextInit, fn: () => T): T {
  return storage.run(
    Object.freeze({
      ...context,
      owner: context.owner || context.subject,
      roles: Object.freeze([...context.roles]),
    }),
    fn,
  );
}

export function currentTenant(): TenantContext | undefined {
  return storage.getStore();
}

/** For code that cannot run without a tenant (repositories, outbox writers). */
export function requireTenant(): TenantContext {
  const context = storage.getStore();
  if (!context) throw new Error('no tenant context: this code must run inside runWithTenant');
  return context;
}

/** Reserved tenant for platform-level actions taken outside any request (startup, operators' jobs). */
export const SYSTEM_TENANT = 'system';

const TENANT_ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/;

/** Tenant ids are short slugs or UUIDs; anything else is refused before it reaches SQL or keys. */
export function isValidTenantId(tenantId: string): boolean {
  return TENANT_ID_PATTERN.test(tenantId);
}
