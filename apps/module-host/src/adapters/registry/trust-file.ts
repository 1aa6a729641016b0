import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { keyId, type TrustPolicy } from '@aion/supply-chain';
import type { TrustPolicies } from '../../core/ports';

const fileSchema = z.object({
  tenants: z.record(
    z.object({
      /** Public keys (PEM) whose signatures the tenant accepts. */
      keys: z.array(z.string().includes('PUBLIC KEY')).default([]),
      /** purl prefixes, names, or name@version the tenant's packages may not contain. */
      deny_components: z.array(z.string().min(1)).default([]),
    }),
  ),
});

const NOTHING: TrustPolicy = { keys: new Map(), denyComponents: [] };

/**
 * Trust per tenant from a YAML file (AION_MODULE_HOST_TRUST_POLICY), read once at startup: keys
 * offline, as air-gapped installs need. A tenant the file does not name trusts no key, so every
 * package it installs from a registry is refused.
 */
export function trustPoliciesFromFile(file: string | undefined): TrustPolicies {
  const tenants = new Map<string, TrustPolicy>();
  if (file) {
    const parsed = fileSchema.safeParse(parseYaml(readFileSync(file, 'utf8')));
    if (!parsed.success)
      throw new Error(
        `${file} is not a valid trust policy: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    for (const [tenant, policy] of Object.entries(parsed.data.tenants))
      tenants.set(tenant, {
        keys: new Map(policy.keys.map((pem) => [keyId(pem), pem])),
        denyComponents: policy.deny_components,
      });
  }
  return { forTenant: (tenantId) => tenants.get(tenantId) ?? NOTHING };
}
