import { verifyReceipt } from '@aion/receipts';
import { ReceiptKeyring, type StoredReceiptKey } from './receipt-keys';

/** Keys in memory, with the store's one rule: one key per generation. Reads take a turn of the
 * event loop, as a database round trip does, so keyrings working at once interleave. */
class MemoryKeys {
  keys: StoredReceiptKey[] = [];
  async all() {
    await new Promise((resolve) => setImmediate(resolve));
    return [...this.keys];
  }
  async insertIfAbsent(k: StoredReceiptKey) {
    if (this.keys.some((existing) => existing.generation === k.generation)) return false;
    this.keys.push(k);
    return true;
  }
}

const DAY = 86_400_000;
const settings = (passphrase = 'p'.repeat(32)) => ({
  passphrase,
  rotateAfterMs: 30 * DAY,
  retainMs: 365 * DAY,
  refreshMs: 60_000,
});

describe('ReceiptKeyring', () => {
  it('signs with a stored, encrypted key that verifies against the JWKS; tampering fails', async () => {
    const store = new MemoryKeys();
    const ring = new ReceiptKeyring(store, {
      passphrase: 'p'.repeat(32),
      rotateAfterMs: 30 * DAY,
      retainMs: 365 * DAY,
      refreshMs: 0,
    });
    const receipt = JSON.stringify({ task_id: 't1', processed_in: { jurisdiction: 'DE' } });
    const { jws, kid } = await ring.sign(receipt);
    expect(store.keys).toHaveLength(1);
    expect(store.keys[0]!.encryptedPrivateKey).toContain('ENCRYPTED PRIVATE KEY');
    const jwks = await ring.jwks();
    expect(jwks.keys[0]).toMatchObject({ kid, kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
    await expect(verifyReceipt(jws, jwks, receipt)).resolves.toMatchObject({ task_id: 't1' });
    const altered = receipt.replace('DE', 'US');
    await expect(verifyReceipt(jws, jwks, altered)).rejects.toThrow(/differs/);
    const [h, p, s] = jws.split('.');
    const forged = `${h}.${Buffer.from(altered).toString('base64url')}.${s}`;
    await expect(verifyReceipt(forged, jwks)).rejects.toThrow(/does not verify/);
    void p;
  });

  it('rotates by age and keeps superseded public keys for the retention period', async () => {
    let now = 0;
    const store = new MemoryKeys();
    const ring = new ReceiptKeyring(
      store,
      { passphrase: 'x'.repeat(32), rotateAfterMs: 10 * DAY, retainMs: 5 * DAY, refreshMs: 0 },
      () => now,
    );
    const first = await ring.sign('{}');
    now = 11 * DAY;
    const second = await ring.sign('{}');
    expect(second.kid).not.toBe(first.kid);
    expect((await ring.jwks()).keys.map((k) => k.kid)).toEqual([second.kid, first.kid]);
    await expect(verifyReceipt(first.jws, await ring.jwks())).resolves.toBeDefined();
    now = 17 * DAY;
    expect((await ring.jwks()).keys.map((k) => k.kid)).toEqual([second.kid]);
  });

  it('reads keys another replica created, with the shared passphrase', async () => {
    const store = new MemoryKeys();
    const settings = {
      passphrase: 'shared-secret-shared-secret-1234',
      rotateAfterMs: DAY,
      retainMs: DAY,
      refreshMs: 0,
    };
    const a = new ReceiptKeyring(store, settings);
    const b = new ReceiptKeyring(store, settings);
    const signedByA = await a.sign('{"a":1}');
    const signedByB = await b.sign('{"b":2}');
    expect(signedByB.kid).toBe(signedByA.kid);
    await expect(verifyReceipt(signedByB.jws, await a.jwks())).resolves.toEqual({ b: 2 });
  });

  it('signs with a new key when the stored one cannot be decrypted any more', async () => {
    const store = new MemoryKeys();
    const base = { rotateAfterMs: DAY, retainMs: DAY, refreshMs: 0 };
    const before = await new ReceiptKeyring(store, { ...base, passphrase: 'a'.repeat(32) }).sign(
      '{}',
    );
    const after = await new ReceiptKeyring(store, { ...base, passphrase: 'b'.repeat(32) }).sign(
      '{}',
    );
    expect(after.kid).not.toBe(before.kid);
    expect(store.keys).toHaveLength(2);
  });

  it('publishes the signing key from startup, before any receipt is signed', async () => {
    const ring = new ReceiptKeyring(new MemoryKeys(), settings());
    const kid = await ring.ensureSigningKey();
    const jwks = await ring.jwks();
    expect(jwks.keys.map((k) => k.kid)).toEqual([kid]);
    const signed = await ring.sign('{"task_id":"t1"}');
    expect(signed.kid).toBe(kid);
    await expect(verifyReceipt(signed.jws, jwks)).resolves.toEqual({ task_id: 't1' });
  });

  it('creates no second key when started again, and signs with the one it found', async () => {
    const store = new MemoryKeys();
    const kid = await new ReceiptKeyring(store, settings()).ensureSigningKey();
    const restarted = new ReceiptKeyring(store, settings());
    expect(await restarted.ensureSigningKey()).toBe(kid);
    expect((await restarted.sign('{}')).kid).toBe(kid);
    expect(store.keys).toHaveLength(1);
  });

  it('keyrings starting together on one store agree on one key', async () => {
    const store = new MemoryKeys();
    const rings = Array.from({ length: 5 }, () => new ReceiptKeyring(store, settings()));
    const kids = await Promise.all(rings.map((ring) => ring.ensureSigningKey()));
    expect(store.keys).toHaveLength(1);
    expect(new Set(kids)).toEqual(new Set([store.keys[0]!.kid]));
    const jwks = await rings[0]!.jwks();
    for (const ring of rings) {
      const signed = await ring.sign('{"n":1}');
      expect(signed.kid).toBe(kids[0]);
      await expect(verifyReceipt(signed.jws, jwks)).resolves.toEqual({ n: 1 });
    }
  });

  it('keyrings signing together with no key yet, or a key due for rotation, make one key', async () => {
    let now = 0;
    const store = new MemoryKeys();
    const rings = Array.from(
      { length: 4 },
      () => new ReceiptKeyring(store, { ...settings(), refreshMs: 0 }, () => now),
    );
    const first = await Promise.all(rings.map((ring) => ring.sign('{}')));
    expect(store.keys).toHaveLength(1);
    expect(new Set(first.map((s) => s.kid)).size).toBe(1);
    now = 31 * DAY;
    const second = await Promise.all(rings.map((ring) => ring.sign('{}')));
    expect(store.keys.map((k) => k.generation).sort()).toEqual([1, 2]);
    expect(new Set(second.map((s) => s.kid))).toEqual(
      new Set([store.keys.find((k) => k.generation === 2)!.kid]),
    );
  });

  it('rotates on demand to the next generation, which then signs', async () => {
    const store = new MemoryKeys();
    const ring = new ReceiptKeyring(store, settings());
    const first = await ring.ensureSigningKey();
    const rotated = await ring.rotate();
    expect(rotated).not.toBe(first);
    expect(store.keys.find((k) => k.kid === rotated)?.generation).toBe(2);
    expect((await ring.sign('{}')).kid).toBe(rotated);
    expect((await ring.jwks()).keys.map((k) => k.kid)).toEqual([rotated, first]);
  });
});
