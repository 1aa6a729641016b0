import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, type JSONWebKeySet, type JWK } from 'jose';
import { RECEIPT_ALG, signReceipt } from '@aion/receipts';

export interface StoredReceiptKey {
  kid: string;
  /** 1 for the first key; the key that supersedes key n is n + 1 (one key per generation). */
  generation: number;
  publicJwk: JWK;
  /** PKCS#8 PEM, encrypted with the configured passphrase (AES-256-CBC). */
  encryptedPrivateKey: string;
  createdAt: Date;
}

/** Platform-wide signing keys (not tenant data: every tenant's receipts verify against them). */
export interface ReceiptKeyStore {
  all(): Promise<StoredReceiptKey[]>;
  /**
   * Stores `key` unless a key of its generation exists, in one atomic step (replicas race for
   * the same generation and exactly one wins); returns whether this key was the one stored.
   */
  insertIfAbsent(key: StoredReceiptKey): Promise<boolean>;
}

export interface KeyringSettings {
  passphrase: string;
  /** A key older than this is replaced by a new one at the next signature. */
  rotateAfterMs: number;
  /** Public keys stay in the JWKS this long after they stopped signing, so old receipts verify. */
  retainMs: number;
  /** How long this replica reuses what it read from the store. */
  refreshMs: number;
}

/**
 * Ed25519 keys that sign sovereignty receipts. The newest key signs; keys rotate by age (or on
 * demand) and their public halves stay published for `retainMs` after they were superseded.
 * `ensureSigningKey` at startup makes the current key exist before anything is served, so the
 * published key set is never empty; replicas starting together agree on one key.
 */
export class ReceiptKeyring {
  private loaded: { keys: StoredReceiptKey[]; at: number } | undefined;
  private readonly privateKeys = new Map<string, KeyObject>();

  constructor(
    private readonly store: ReceiptKeyStore,
    private readonly settings: KeyringSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** Creates the current signing key if there is none (or it is due for rotation); its kid. */
  async ensureSigningKey(): Promise<string> {
    return (await this.signingKey()).key.kid;
  }

  async sign(receiptJson: string): Promise<{ jws: string; kid: string }> {
    const { key, privateKey } = await this.signingKey();
    return { jws: await signReceipt(receiptJson, { kid: key.kid, privateKey }), kid: key.kid };
  }

  async rotate(): Promise<string> {
    this.loaded = undefined;
    return (await this.succeed(newest(await this.keys()))).kid;
  }

  /** Public keys only: the active key and every key superseded less than `retainMs` ago. */
  async jwks(): Promise<JSONWebKeySet> {
    const keys = [...(await this.keys())].sort((a, b) => b.generation - a.generation);
    const published = keys.filter(
      (k, i) => i === 0 || this.now() - keys[i - 1]!.createdAt.getTime() <= this.settings.retainMs,
    );
    return {
      keys: published.map((k) => ({ ...k.publicJwk, kid: k.kid, alg: RECEIPT_ALG, use: 'sig' })),
    };
  }

  private async signingKey(): Promise<{ key: StoredReceiptKey; privateKey: KeyObject }> {
    let key = newest(await this.keys());
    if (!key || this.now() - key.createdAt.getTime() > this.settings.rotateAfterMs)
      key = await this.succeed(key);
    try {
      return { key, privateKey: this.privateKeyOf(key) };
    } catch {
      // The passphrase changed (e.g. an embedded restart with a new generated secret): the old
      // key can no longer sign, but its public half stays published; sign with a fresh key.
      key = await this.succeed(key);
      return { key, privateKey: this.privateKeyOf(key) };
    }
  }

  private async keys(): Promise<StoredReceiptKey[]> {
    if (!this.loaded || this.now() - this.loaded.at > this.settings.refreshMs)
      this.loaded = { keys: await this.store.all(), at: this.now() };
    return this.loaded.keys;
  }

  /**
   * Makes a key of the generation after `previous` current: this replica's, or the one another
   * replica stored first for that generation. Then reads the store back and returns its newest
   * key (a replica that was further ahead may have stored an even newer one).
   */
  private async succeed(previous: StoredReceiptKey | undefined): Promise<StoredReceiptKey> {
    const { key, privateKey } = await this.generate((previous?.generation ?? 0) + 1);
    if (await this.store.insertIfAbsent(key)) this.privateKeys.set(key.kid, privateKey);
    this.loaded = undefined;
    const current = newest(await this.keys());
    if (!current) throw new Error('receipt key store returned no key after storing one');
    return current;
  }

  private async generate(generation: number) {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const publicJwk = await exportJWK(publicKey);
    const key: StoredReceiptKey = {
      kid: `aion-receipt-${(await calculateJwkThumbprint(publicJwk)).slice(0, 16)}`,
      generation,
      publicJwk,
      encryptedPrivateKey: privateKey
        .export({
          type: 'pkcs8',
          format: 'pem',
          cipher: 'aes-256-cbc',
          passphrase: this.settings.passphrase,
        })
        .toString(),
      createdAt: new Date(this.now()),
    };
    return { key, privateKey };
  }

  private privateKeyOf(key: StoredReceiptKey): KeyObject {
    let privateKey = this.privateKeys.get(key.kid);
    if (!privateKey) {
      privateKey = createPrivateKey({
        key: key.encryptedPrivateKey,
        format: 'pem',
        passphrase: this.settings.passphrase,
      });
      this.privateKeys.set(key.kid, privateKey);
    }
    return privateKey;
  }
}

function newest(keys: StoredReceiptKey[]): StoredReceiptKey | undefined {
  return keys.reduce<StoredReceiptKey | undefined>(
    (best, k) => (!best || k.generation > best.generation ? k : best),
    undefined,
  );
}
