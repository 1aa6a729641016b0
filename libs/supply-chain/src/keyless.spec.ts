import {
  FulcioStandIn,
  RekorStandIn,
  signKeyless,
  trustedRootJson,
  type KeylessSigning,
} from '@aion/testing/sigstore-standin';
import { keylessTrust, trustedIdentity, type KeylessTrust } from './keyless';
import { generateSigningKey, keyId, signBundle, verifyBundle } from './signing';

/*
 * Fulcio and Rekor cannot run here (they need Trillian on MySQL and an OIDC issuer): the
 * certificates and log entries come from a stand-in (libs/testing/src/sigstore-standin.ts) that
 * produces what they would, a generated CA as Fulcio's root and a generated log key as Rekor's,
 * and the real @sigstore/verify code path checks them.
 */

const content = new TextEncoder().encode('{"schemaVersion":2,"artifactType":"aion"}');
const ISSUER = 'https://token.actions.githubusercontent.com';
const IDENTITY = 'https://github.com/acme/agents/.github/workflows/release.yml@refs/heads/main';
const noKeys = new Map<string, string>();

let fulcio: FulcioStandIn;
let rekor: RekorStandIn;
let trust: KeylessTrust;

beforeAll(async () => {
  fulcio = await FulcioStandIn.create();
  rekor = new RekorStandIn();
  trust = keylessTrust(trustedRootJson([fulcio], [rekor]), [
    { identity: IDENTITY, issuer: ISSUER },
    { identityRegExp: '[a-z.]+@acme\\.example', issuer: 'https://accounts.acme.example' },
  ]);
});

const signed = (overrides: Partial<KeylessSigning> = {}) =>
  signKeyless(content, { fulcio, rekor, identity: IDENTITY, issuer: ISSUER, ...overrides });

test('a keyless bundle by a trusted identity verifies (v0.3 certificate and v0.2 chain)', async () => {
  expect(verifyBundle(await signed(), content, noKeys, trust)).toEqual({
    ok: true,
    signedBy: `${IDENTITY} (${ISSUER})`,
  });
  expect(verifyBundle(await signed({ chain: true }), content, noKeys, trust)).toMatchObject({
    ok: true,
  });
  const byMail = await signed({
    identity: 'ops.team@acme.example',
    issuer: 'https://accounts.acme.example',
  });
  expect(verifyBundle(byMail, content, noKeys, trust)).toEqual({
    ok: true,
    signedBy: 'ops.team@acme.example (https://accounts.acme.example)',
  });
});

test('another identity, or the right identity from another issuer, is untrusted', async () => {
  const wrongIdentity = await signed({
    identity: 'https://github.com/evil/agents/.github/workflows/release.yml@refs/heads/main',
  });
  expect(verifyBundle(wrongIdentity, content, noKeys, trust)).toMatchObject({
    ok: false,
    reason: 'untrusted_identity',
    message: expect.stringContaining('evil') as string,
  });
  const wrongIssuer = await signed({ issuer: 'https://issuer.evil.example' });
  expect(verifyBundle(wrongIssuer, content, noKeys, trust)).toMatchObject({
    ok: false,
    reason: 'untrusted_identity',
  });
  // The expression matches the whole SAN: a trusted suffix inside another address is not enough.
  const suffixed = await signed({
    identity: 'ops@acme.example.evil.test',
    issuer: 'https://accounts.acme.example',
  });
  expect(verifyBundle(suffixed, content, noKeys, trust)).toMatchObject({
    reason: 'untrusted_identity',
  });
});

test('a certificate from a CA the root does not name is refused', async () => {
  const rogueCa = await FulcioStandIn.create('fulcio.evil');
  expect(verifyBundle(await signed({ fulcio: rogueCa }), content, noKeys, trust)).toMatchObject({
    ok: false,
    reason: 'untrusted_ca',
  });
});

test('tampered content fails the signature', async () => {
  const bundle = await signed();
  expect(verifyBundle(bundle, new TextEncoder().encode('{}'), noKeys, trust)).toMatchObject({
    ok: false,
    reason: 'invalid_signature',
  });
});

test('no transparency-log entry, or one from an untrusted log, is refused', async () => {
  expect(verifyBundle(await signed({ rekor: undefined }), content, noKeys, trust)).toMatchObject({
    ok: false,
    reason: 'tlog_missing',
  });
  // Claims the trusted log's id and URL, signs the SET and checkpoint with its own key.
  const impostor = new RekorStandIn(rekor);
  expect(verifyBundle(await signed({ rekor: impostor }), content, noKeys, trust)).toMatchObject({
    ok: false,
    reason: 'tlog_invalid',
    message: expect.stringContaining('inclusion promise') as string,
  });
  const otherLog = new RekorStandIn();
  expect(verifyBundle(await signed({ rekor: otherLog }), content, noKeys, trust)).toMatchObject({
    ok: false,
    reason: 'tlog_invalid',
  });
});

test('an entry the log integrated after the certificate expired is refused', async () => {
  const late = await signed({ integratedAt: new Date(Date.now() + 3_600_000) });
  expect(verifyBundle(late, content, noKeys, trust)).toMatchObject({
    ok: false,
    reason: 'certificate_expired',
  });
});

test('a log entry for other content fails the entry, not only the signature', async () => {
  const bundle = await signed();
  const other = (await signed()) as { verificationMaterial: { tlogEntries: unknown[] } };
  (
    bundle as { verificationMaterial: { tlogEntries: unknown[] } }
  ).verificationMaterial.tlogEntries = other.verificationMaterial.tlogEntries;
  expect(verifyBundle(bundle, content, noKeys, trust)).toMatchObject({
    ok: false,
    reason: 'tlog_invalid',
  });
});

test('without a trusted root a keyless bundle is refused, and keys still verify beside it', async () => {
  expect(verifyBundle(await signed(), content, noKeys)).toMatchObject({
    ok: false,
    reason: 'untrusted_identity',
  });
  const key = generateSigningKey();
  const keys = new Map([[keyId(key.publicKeyPem), key.publicKeyPem]]);
  expect(verifyBundle(signBundle(content, key.privateKeyPem), content, keys, trust)).toEqual({
    ok: true,
    signedBy: keyId(key.publicKeyPem),
  });
});

test('identity rules and trusted roots are checked when configured', () => {
  expect(() => trustedIdentity({ identity: 'a@b.c' })).toThrow(/issuer/);
  expect(() => trustedIdentity({ identity: 'a', identityRegExp: 'a', issuer: 'i' })).toThrow(
    /exactly one/,
  );
  expect(() => trustedIdentity({ identityRegExp: '(', issuer: 'i' })).toThrow(/identity_regexp/);
  expect(() => keylessTrust({ mediaType: 'application/json' }, [])).toThrow(/trusted root/);
  expect(() =>
    keylessTrust(trustedRootJson([fulcio], []), [{ identity: 'a', issuer: 'i' }]),
  ).toThrow(/no transparency log/);
});

test('the inclusion proof is checked too: a wrong sibling hash fails it', async () => {
  const bundle = (await signed()) as {
    verificationMaterial: { tlogEntries: { inclusionProof: { hashes: string[] } }[] };
  };
  const proof = bundle.verificationMaterial.tlogEntries[0]!.inclusionProof;
  proof.hashes = [Buffer.alloc(32, 7).toString('base64')];
  expect(verifyBundle(bundle, content, noKeys, trust)).toMatchObject({
    ok: false,
    reason: 'tlog_invalid',
    message: expect.stringContaining('root hash') as string,
  });
});

test('an expression cannot break out of its anchors', () => {
  expect(() => trustedIdentity({ identityRegExp: 'a)|(.*', issuer: 'i' })).toThrow(
    /identity_regexp/,
  );
  const rule = trustedIdentity({ identityRegExp: 'a|b', issuer: 'i' });
  expect(rule.matches('b', 'i')).toBe(true);
  expect(rule.matches('ab', 'i')).toBe(false);
});
