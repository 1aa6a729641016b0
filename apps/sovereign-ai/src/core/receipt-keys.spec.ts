import { verifyReceipt } from '@aion/receipts';
import { ReceiptKeyring, type StoredReceiptKey } from './receipt-keys';

class MemoryKeys {
  keys: StoredReceiptKey[] = [];
  async all() {
    return [...this.keys];
  }
  async insert(k: StoredReceiptKey) {
    this.keys.push(k);
  }
}

const DAY = 86_400_000;

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
});
