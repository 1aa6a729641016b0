import { isValidTenantId, type TenantContextInit } from './context';

/**
 * Header names used to carry the tenant context across gRPC metadata and Kafka headers.
 * Inside the platform these are trusted only together with a verified internal token (gRPC) or
 * because they were written by the platform's own producer (Kafka); the gateway strips them
 * from public requests.
 */
export const TENANT_HEADERS = {
  tenantId: 'x-aion-tenant-id',
  subject: 'x-aion-subject',
  owner: 'x-aion-owner',
  roles: 'x-aion-roles',
  requestId: 'x-request-id',
} as const;

export function tenantToHeaders(context: TenantContextInit): Record<string, string> {
  return {
    [TENANT_HEADERS.tenantId]: context.tenantId,
    [TENANT_HEADERS.subject]: context.subject,
    ...(context.owner ? { [TENANT_HEADERS.owner]: context.owner } : {}),
    [TENANT_HEADERS.roles]: context.roles.join(','),
    [TENANT_HEADERS.requestId]: context.requestId,
  };
}

type HeaderValue = string | Buffer | (string | Buffer)[] | undefined;

function text(value: HeaderValue): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined) return undefined;
  return Buffer.isBuffer(first) ? first.toString('utf8') : first;
}

/** Reads a tenant context back; undefined when absent or malformed. No owner: the subject's. */
export function tenantFromHeaders(
  headers: Record<string, HeaderValue>,
): TenantContextInit | undefined {
  const tenantId = text(headers[TENANT_HEADERS.tenantId]);
  if (!tenantId || !isValidTenantId(tenantId)) return undefined;
  const roles = (text(headers[TENANT_HEADERS.roles]) ?? '').split(',').filter(Boolean);
  const owner = text(headers[TENANT_HEADERS.owner]);
  return {
    tenantId,
    subject: text(headers[TENANT_HEADERS.subject]) ?? 'unknown',
    ...(owner ? { owner } : {}),
    roles,
    requestId: text(headers[TENANT_HEADERS.requestId]) ?? '',
  };
}
