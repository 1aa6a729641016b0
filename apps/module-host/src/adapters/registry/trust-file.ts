import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  keyId,
  keylessTrust,
  type IdentityRule,
  type KeylessTrust,
  type TrustPolicy,
} from '@aion/supply-chain';
import type { TrustPolicies } from '../../core/ports';

/** A keyless signer, as cosign's --certificate-identity[-regexp] / --certificate-oidc-issuer[-regexp]. */
const identitySchema = z
  .object({
    identity: z.string().min(1).optional(),
    identity_regexp: z.string().min(1).optional(),
    issuer: z.string().min(1).optional(),
    issuer_regexp: z.string().min(1).optional(),
  })
  .strict();

const fileSchema = z.object({
  /** Keyless trust for every tenant: a Sigstore trusted root and identities all tenants accept. */
  keyless: z
    .object({
      trusted_root: z.string().min(1).optional(),
      identities: z.array(identitySchema).default([]),
    })
    .strict()
    .optional(),
  tenants: z.record(
    z
      .object({
        /** Public keys (PEM) whose signatures the tenant accepts. */
        keys: z.array(z.string().includes('PUBLIC KEY')).default([]),
        /** Keyless signers the tenant accepts (beside the deployment's). */
        identities: z.array(identitySchema).default([]),
        /** The tenant's own trusted_root.json (its private Sigstore), instead of the deployment's. */
        trusted_root: z.string().min(1).optional(),
        /** purl prefixes, names, or name@version the tenant's packages may not contain. */
        deny_components: z.array(z.string().min(1)).default([]),
      })
      .strict(),
  ),
});

type IdentityEntry = z.infer<typeof identitySchema>;

const NOTHING: TrustPolicy = { keys: new Map(), denyComponents: [] };

/**
 * Trust per tenant from a YAML file (AION_MODULE_HOST_TRUST_POLICY), read once at startup: keys
 * offline, as air-gapped installs need, and keyless signers (identities) under a sigstore
 * trusted root (trusted_root.json: Fulcio CAs, Rekor keys; a path relative to this file), the
 * deployment's or a tenant's own. A tenant the file does not name trusts nothing, so every
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
    const roots = new Map<string, unknown>();
    const readRoot = (relative: string): unknown => {
      const full = path.resolve(path.dirname(file), relative);
      if (!roots.has(full)) {
        try {
          roots.set(full, JSON.parse(readFileSync(full, 'utf8')));
        } catch (err) {
          throw new Error(`${file}: trusted root ${full}: ${(err as Error).message}`);
        }
      }
      return roots.get(full);
    };
    const deployment = parsed.data.keyless;
    for (const [tenant, policy] of Object.entries(parsed.data.tenants)) {
      const rootFile = policy.trusted_root ?? deployment?.trusted_root;
      const identities = [...(deployment?.identities ?? []), ...policy.identities];
      let keyless: KeylessTrust | undefined;
      if (rootFile) {
        try {
          keyless = keylessTrust(readRoot(rootFile), identities.map(identityRule));
        } catch (err) {
          throw new Error(`${file}: tenant ${tenant}: ${(err as Error).message}`);
        }
      } else if (identities.length)
        throw new Error(
          `${file}: tenant ${tenant} trusts keyless identities but no trusted_root names the Sigstore deployment they sign with`,
        );
      tenants.set(tenant, {
        keys: new Map(policy.keys.map((pem) => [keyId(pem), pem])),
        ...(keyless ? { keyless } : {}),
        denyComponents: policy.deny_components,
      });
    }
  }
  return { forTenant: (tenantId) => tenants.get(tenantId) ?? NOTHING };
}

function identityRule(entry: IdentityEntry): IdentityRule {
  return {
    ...(entry.identity !== undefined ? { identity: entry.identity } : {}),
    ...(entry.identity_regexp !== undefined ? { identityRegExp: entry.identity_regexp } : {}),
    ...(entry.issuer !== undefined ? { issuer: entry.issuer } : {}),
    ...(entry.issuer_regexp !== undefined ? { issuerRegExp: entry.issuer_regexp } : {}),
  };
}
