/** The five roles, from most to least privileged. */
export const ROLES = ['admin', 'operator', 'developer', 'observer', 'anonymous'] as const;
export type Role = (typeof ROLES)[number];

/** The seventeen permissions every route and RPC is checked against. */
export const PERMISSIONS = [
  'tasks:submit',
  'tasks:read',
  'tasks:cancel',
  'budget:read',
  'budget:manage',
  'operations:manage',
  'sovereign:read',
  'sovereign:manage',
  'models:register',
  'models:approve',
  'pipeline:read',
  'pipeline:manage',
  'observability:read',
  'observability:manage',
  'modules:read',
  'modules:manage',
  'auth:manage',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const READS: Permission[] = [
  'tasks:read',
  'budget:read',
  'sovereign:read',
  'pipeline:read',
  'observability:read',
  'modules:read',
];

/**
 * Role -> permissions, as one table. Operators run the platform but do not manage credentials;
 * developers submit work and prepare data; observers only read; anonymous gets nothing.
 */
export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: PERMISSIONS,
  operator: PERMISSIONS.filter((p) => p !== 'auth:manage'),
  developer: [...READS, 'tasks:submit', 'tasks:cancel', 'models:register', 'pipeline:manage'],
  observer: READS,
  anonymous: [],
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
