import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKeyService, ApiKeyVerifier, Principal } from '@aion/auth';

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/**
 * The owner of the bootstrap admin key and of the first key generated without it: the operator
 * who installed the platform. Every key made with them inherits it, so approvals need a
 * second person (a login, an identity provider's token, or keys that person made).
 */
export const BOOTSTRAP_OWNER = 'bootstrap';

/**
 * Accepts AION_BOOTSTRAP_ADMIN_KEY (any string of 32+ characters) as an admin key of the
 * bootstrap tenant, compared in constant time; every other key goes to the key service.
 */
export class BootstrapAwareKeys implements ApiKeyVerifier {
  private readonly bootstrapHash: Buffer | undefined;

  constructor(
    private readonly keys: ApiKeyService,
    bootstrapKey: string | undefined,
    private readonly bootstrapTenant: string,
  ) {
    this.bootstrapHash = bootstrapKey ? sha256(bootstrapKey) : undefined;
  }

  async verify(presented: string): Promise<Principal> {
    if (this.bootstrapHash && timingSafeEqual(sha256(presented), this.bootstrapHash)) {
      return {
        kind: 'api_key',
        tenantId: this.bootstrapTenant,
        subject: 'key:bootstrap',
        owner: BOOTSTRAP_OWNER,
        roles: ['admin'],
        keyId: 'bootstrap',
      };
    }
    return this.keys.verify(presented);
  }
}

/**
 * First start without AION_BOOTSTRAP_ADMIN_KEY: create one admin key for the bootstrap tenant
 * and hand it back so it can be printed once. Never again once any key exists.
 */
export async function generateFirstAdminKey(
  keys: ApiKeyService,
  isEmpty: () => Promise<boolean>,
  tenantId: string,
): Promise<string | undefined> {
  if (!(await isEmpty())) return undefined;
  const { key } = await keys.create({
    tenantId,
    role: 'admin',
    name: 'bootstrap admin (generated on first start)',
    owner: BOOTSTRAP_OWNER,
  });
  return key;
}
