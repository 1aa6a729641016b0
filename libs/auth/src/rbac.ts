/** The five roles, from most to least privileged. */
export const ROLES = ['admin', 'operator', 'developer', 'observer', 'anonymous'] as const;
export type Role = (typeof ROLES)[number];

/**
 * The seventeen permissions every route and RPC is checked against (the governance seed's table:
 * admin 17, operator 11, developer 7, observer 4, anonymous 1). docs/security.md lists what each
 * one opens.
 */
export const PERMISSIONS = [
  // everyone, the anonymous caller included
  'health:read',
  // observers and up: read-only
  'tasks:read',
  'budget:read',
  'platform:read',
  // developers and up: their own work
  'tasks:submit',
  'tasks:cancel',
  'models:register',
  // operators and up: every task of the tenant, escalations, the DLQ and the audit trail to read
  'tasks:manage',
  'escalations:manage',
  'dlq:read',
  'audit:read',
  // admins only: money, recovery actions, approvals, policy and credentials
  'budget:manage',
  'operations:manage',
  'models:approve',
  'sovereign:manage',
  'observability:manage',
  'auth:manage',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const upTo = (last: Permission): Permission[] =>
  PERMISSIONS.slice(0, PERMISSIONS.indexOf(last) + 1);

/**
 * Role -> permissions, as one table; each role holds the one below it and more. Resolving and
 * replaying dead letters and resetting every circuit breaker (`operations:manage`) are admin-only.
 */
export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: PERMISSIONS,
  operator: upTo('audit:read'),
  developer: upTo('models:register'),
  observer: upTo('platform:read'),
  anonymous: upTo('health:read'),
};

const grants = new Map<Role, Set<Permission>>(ROLES.map((r) => [r, new Set(ROLE_PERMISSIONS[r])]));

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function isPermission(value: string): value is Permission {
  return (PERMISSIONS as readonly string[]).includes(value);
}

/** True when any of the roles grants the permission; unknown role names grant nothing. */
export function can(roles: readonly string[], permission: Permission): boolean {
  return roles.some((r) => isRole(r) && grants.get(r)!.has(permission));
}

export function permissionsOf(roles: readonly string[]): Permission[] {
  return PERMISSIONS.filter((p) => can(roles, p));
}
