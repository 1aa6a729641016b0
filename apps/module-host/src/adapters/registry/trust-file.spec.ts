import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { verifyBundle } from '@aion/supply-chain';
import {
  FulcioStandIn,
  RekorStandIn,
  signKeyless,
  trustedRootJson,
} from '@aion/testing/sigstore-standin';
import { trustPoliciesFromFile } from './trust-file';

// Fulcio and Rekor cannot run here: the trusted roots and bundles come from the stand-in CA and log.

const dir = mkdtempSync(path.join(tmpdir(), 'aion-trust-'));
const content = new TextEncoder().encode('manifest');
let deploymentCa: FulcioStandIn;
let tenantCa: FulcioStandIn;
let rekor: RekorStandIn;

beforeAll(async () => {
  deploymentCa = await FulcioStandIn.create('fulcio.deployment');
  tenantCa = await FulcioStandIn.create('fulcio.acme');
  rekor = new RekorStandIn();
  writeFileSync(
    path.join(dir, 'trusted_root.json'),
    JSON.stringify(trustedRootJson([deploymentCa], [rekor])),
  );
  writeFileSync(
    path.join(dir, 'acme_root.json'),
    JSON.stringify(trustedRootJson([tenantCa], [rekor])),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function policyFile(yaml: string): string {
  const file = path.join(dir, `trust-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  return file;
}

const verify = async (
  policies: ReturnType<typeof trustPoliciesFromFile>,
  tenant: string,
  fulcio: FulcioStandIn,
  identity: string,
) => {
  const policy = policies.forTenant(tenant);
  const bundle = await signKeyless(content, {
    fulcio,
    rekor,
    identity,
    issuer: 'https://idp.test',
  });
  return verifyBundle(bundle, content, policy.keys, policy.keyless);
};

test("the deployment's identities apply to every tenant, a tenant's only to it", async () => {
  const policies = trustPoliciesFromFile(
    policyFile(`keyless:
  trusted_root: trusted_root.json
  identities:
    - {identity: release@platform.test, issuer: https://idp.test}
tenants:
  acme:
    identities:
      - {identity_regexp: '.*@acme\\.test', issuer: https://idp.test}
  globex: {}
`),
  );
  expect(await verify(policies, 'acme', deploymentCa, 'dev@acme.test')).toMatchObject({ ok: true });
  expect(await verify(policies, 'globex', deploymentCa, 'dev@acme.test')).toMatchObject({
    ok: false,
    reason: 'untrusted_identity',
  });
  expect(await verify(policies, 'globex', deploymentCa, 'release@platform.test')).toMatchObject({
    ok: true,
  });
  // A tenant the file does not name trusts nothing, keyless included.
  expect(await verify(policies, 'initech', deploymentCa, 'release@platform.test')).toMatchObject({
    ok: false,
    reason: 'untrusted_identity',
  });
});

test("a tenant's own trusted root replaces the deployment's", async () => {
  const policies = trustPoliciesFromFile(
    policyFile(`keyless: {trusted_root: trusted_root.json}
tenants:
  acme:
    trusted_root: acme_root.json
    identities: [{identity: dev@acme.test, issuer: https://idp.test}]
`),
  );
  expect(await verify(policies, 'acme', tenantCa, 'dev@acme.test')).toMatchObject({ ok: true });
  expect(await verify(policies, 'acme', deploymentCa, 'dev@acme.test')).toMatchObject({
    ok: false,
    reason: 'untrusted_ca',
  });
});

test('a policy that cannot be what it means is refused at startup', () => {
  expect(() =>
    trustPoliciesFromFile(
      policyFile(
        `tenants:\n  acme:\n    identities: [{identity: a@b.test, issuer: https://idp.test}]\n`,
      ),
    ),
  ).toThrow(/no trusted_root/);
  expect(() =>
    trustPoliciesFromFile(
      policyFile(
        `keyless: {trusted_root: trusted_root.json}\ntenants:\n  acme:\n    identities: [{identity_regexp: '(', issuer: https://idp.test}]\n`,
      ),
    ),
  ).toThrow(/tenant acme: identity_regexp/);
  expect(() =>
    trustPoliciesFromFile(
      policyFile(`keyless: {trusted_root: missing.json}\ntenants:\n  acme: {}\n`),
    ),
  ).toThrow(/missing\.json/);
  expect(() =>
    trustPoliciesFromFile(
      policyFile(
        `tenants:\n  acme:\n    identites: [{identity: a@b.test, issuer: https://idp.test}]\n`,
      ),
    ),
  ).toThrow(/not a valid trust policy/);
});
