import type { Role } from './rbac';

/** Who a verified credential says is calling. The tenant comes from here, never from a header. */
export interface Principal {
  kind: 'api_key' | 'user' | 'service';
  tenantId: string;
  /** API key id, user id or service name. */
  subject: string;
  roles: Role[];
  /** Set for API keys: lets audit name the key without its secret. */
  keyId?: string;
}
