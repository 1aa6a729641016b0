import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, type JSONWebKeySet, type JWK } from 'jose';
import { RECEIPT_ALG, signReceipt } from '@aion/receipts';

export interface StoredReceiptKey {
  kid: string;
  publicJwk: JWK;
  /** PKCS#8 PEM, encrypted with the configured passphrase (AES-256-CBC). */
  encryptedPrivateKey: string;
  createdAt: Date;
}

/** Platform-wide signing keys (not tenant data: every tenant's receipts verify against them). */
export interface ReceiptKeyStore {
  all(): Promise<StoredReceiptKey[]>;
  insert(key: StoredReceiptKey): Promise<void>;
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
 */
export class ReceiptKeyring {
  private loaded: { keys: StoredReceiptKey[]; at: number } | undefined;
  private readonly privateKeys = new Map<string, KeyObject>();

  constructor(
    private readonly store: ReceiptKeyStore,
    private readonly settings: KeyringSettings,
    private readonly now: () => number = Date.now,
  ) {}

  async sign(receiptJson: string): Promise<{ jws: string; kid: string }> {
    let active = this.newest(await this.keys());
    if (!active || this.now() - active.createdAt.getTime() > this.settings.rotateAfterMs)
      active = await this.create();
    let privateKey: KeyObject;
    try {
      privateKey = this.privateKeyOf(active);
    } catch {
      // The passphrase changed (e.g. an embedded restart with a new generated secret): the old
      // key can no longer sign, but its public half stays published; sign with a fresh key.
      active = await this.create();
      privateKey = this.privateKeyOf(active);
    }
    return {
      jws: await signReceipt(receiptJson, { kid: active.kid, privateKey }),
      kid: active.kid,
    };
  }

  async rotate(): Promise<string> {
    return (await this.create()).kid;
  }

  /** Public keys only: the active key and every key superseded less than `retainMs` ago. */
  async jwks(): Promise<JSONWebKeySet> {
    const keys = [...(await this.keys())].sort(
      (a, b) => b.createdAt.getTime() - a.createdAt.getTime(),
    );
    const published = keys.filter(
      (k, i) => i === 0 || this.now() - keys[i - 1]!.createdAt.getTime() <= this.settings.retainMs,
    );
    return {
      keys: published.map((k) => ({ ...k.publicJwk, kid: k.kid, alg: RECEIPT_ALG, use: 'sig' })),
    };
  }

  private async keys(): Promise<StoredReceiptKey[]> {
    if (!this.loaded || this.now() - this.loaded.at > this.settings.refreshMs)
      this.loaded = { keys: await this.store.all(), at: this.now() };
    return this.loaded.keys;
  }

  private newest(keys: StoredReceiptKey[]): StoredReceiptKey | undefined {
    return keys.reduce<StoredReceiptKey | undefined>(
      (best, k) => (!best || k.createdAt > best.createdAt ? k : best),
      undefined,
    );
  }

  private async create(): Promise<StoredReceiptKey> {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const publicJwk = await exportJWK(publicKey);
    const key: StoredReceiptKey = {
      kid: `aion-receipt-${(await calculateJwkThumbprint(publicJwk)).slice(0, 16)}`,
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
    await this.store.insert(key);
    this.privateKeys.set(key.kid, privateKey);
    this.loaded = undefined;
    return key;
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
