import type { Role } from './rbac';

/** Who a verified credential says is calling. The tenant comes from here, never from a header. */
export interface Principal {
  kind: 'api_key' | 'user' | 'service';
  tenantId: string;
  /** API key id, user id or service name. */
  subject: string;
  /**
   * The human identity behind the credential, what four-eyes rules compare: `user:<id>` for a
   * login and the keys that user made, `bootstrap` for the bootstrap admin key and its keys,
   * `idp:<issuer>:<sub>` for an identity provider's token and the keys made with it; a key made
   * by a key inherits its owner. A service acting for itself owns itself (its subject).
   */
  owner: string;
  roles: Role[];
  /** Set for API keys: lets audit name the key without its secret. */
  keyId?: string;
}
