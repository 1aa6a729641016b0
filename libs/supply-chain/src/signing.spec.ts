import { generateSigningKey, keyId, signBundle, verifyBundle } from './signing';

const signer = generateSigningKey();
const other = generateSigningKey();
const content = new TextEncoder().encode('{"schemaVersion":2}');
const trusted = new Map([[keyId(signer.publicKeyPem), signer.publicKeyPem]]);

test('a bundle verifies against the key that signed it, offline', () => {
  const bundle = signBundle(content, signer.privateKeyPem);
  expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
  expect(verifyBundle(bundle, content, trusted)).toEqual({
    ok: true,
    signedBy: keyId(signer.publicKeyPem),
  });
});

test('other content, another key, a forged hint and garbage are each refused', () => {
  const bundle = signBundle(content, signer.privateKeyPem);
  expect(verifyBundle(bundle, new TextEncoder().encode('{}'), trusted)).toMatchObject({
    ok: false,
    reason: 'invalid_signature',
  });
  expect(verifyBundle(signBundle(content, other.privateKeyPem), content, trusted)).toMatchObject({
    ok: false,
    reason: 'untrusted_key',
  });
  // Signed by the other key but naming the trusted one: the hint is only a name.
  const forged = signBundle(content, other.privateKeyPem);
  const material = forged.verificationMaterial as { publicKey: { hint: string } };
  material.publicKey.hint = keyId(signer.publicKeyPem);
  expect(verifyBundle(forged, content, trusted)).toMatchObject({
    ok: false,
    reason: 'invalid_signature',
  });
  expect(verifyBundle({ nope: true }, content, trusted)).toMatchObject({
    ok: false,
    reason: 'malformed',
  });
});
