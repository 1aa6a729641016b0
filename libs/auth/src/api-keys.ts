import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { AionError } from '@aion/errors';
import { isValidTenantId } from '@aion/tenancy';
import type { Principal } from './principal';
import { isRole, type Role } from './rbac';

/** What is stored for a key: never the secret, only its SHA-256 (keys have 256 bits of entropy). */
export interface ApiKeyRecord {
  id: string;
  /** Public lookup handle, also shown in listings so users can tell keys apart. */
  prefix: string;
  secretHash: string;
  tenantId: string;
  role: Role;
  name: string;
  /** The human identity that created the key (`Principal.owner`): the principal it verifies to. */
  owner: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

/** Persistence port; the gateway implements it on PostgreSQL, tests and embedded mode in memory. */
export interface ApiKeyRepository {
  insert(record: ApiKeyRecord): Promise<void>;
  findByPrefix(prefix: string): Promise<ApiKeyRecord | undefined>;
  listByTenant(tenantId: string): Promise<ApiKeyRecord[]>;
  /** Marks the key revoked; false when no key of this tenant has that id. */
  revoke(tenantId: string, id: string, at: Date): Promise<boolean>;
  touch(id: string, at: Date): Promise<void>;
}

const KEY_PATTERN = /^aion_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export interface CreateApiKeyInput {
  tenantId: string;
  role: Role;
  name: string;
  /** Who creates it: the creating principal's `owner`, never the creating key itself. */
  owner: string;
  expiresAt?: Date | null;
}

/** Owners come from verified credentials; bounded so a huge IdP `sub` cannot fill the table. */
const MAX_OWNER_LENGTH = 1024;

export interface ApiKeyServiceOptions {
  /**
   * How long a looked-up key is reused before asking the repository again (default 0: never).
   * A key revoked on another replica keeps working there for at most this long.
   */
  cacheTtlMs?: number;
  /** `last_used_at` is written at most this often per key (default 60 s), not on every request. */
  touchIntervalMs?: number;
}

export class ApiKeyService {
  private readonly cache = new Map<string, { record: ApiKeyRecord | undefined; until: number }>();
  private readonly touched = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<ApiKeyRecord | undefined>>();

  constructor(
    private readonly repository: ApiKeyRepository,
    private readonly now: () => Date = () => new Date(),
    private readonly options: ApiKeyServiceOptions = {},
  ) {}

  private async lookup(prefix: string): Promise<ApiKeyRecord | undefined> {
    const ttl = this.options.cacheTtlMs ?? 0;
    const at = Date.now();
    const hit = this.cache.get(prefix);
    if (hit && hit.until > at) return hit.record;
    // Single flight: concurrent requests with a key not cached yet share one database read.
    const pending = this.inFlight.get(prefix);
    if (pending) return pending;
    const read = this.repository.findByPrefix(prefix).finally(() => this.inFlight.delete(prefix));
    this.inFlight.set(prefix, read);
    const record = await read;
    if (ttl > 0) {
      this.cache.set(prefix, { record, until: at + ttl });
      // Bounded: forget the oldest entries beyond 10,000 keys.
      if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    }
    return record;
  }

  private touch(id: string): void {
    const at = this.now();
    const last = this.touched.get(id) ?? 0;
    if (at.getTime() - last < (this.options.touchIntervalMs ?? 60_000)) return;
    this.touched.set(id, at.getTime());
    if (this.touched.size > 10_000) this.touched.delete(this.touched.keys().next().value!);
    void this.repository.touch(id, at).catch(() => undefined);
  }

  /** Creates a key; the returned `key` is the only time the secret is ever visible. */
  async create(input: CreateApiKeyInput): Promise<{ key: string; record: ApiKeyRecord }> {
    if (!isValidTenantId(input.tenantId)) throw AionError.validation('invalid tenant id');
    if (!isRole(input.role)) throw AionError.validation(`unknown role ${String(input.role)}`);
    if (!input.owner || input.owner.length > MAX_OWNER_LENGTH)
      throw AionError.validation(`a key needs an owner of 1-${MAX_OWNER_LENGTH} characters`);
    if (input.expiresAt && input.expiresAt.getTime() <= this.now().getTime())
      throw AionError.validation('expires_at must be in the future');
    const prefix = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const record: ApiKeyRecord = {
      id: randomUUID(),
      prefix,
      secretHash: hashSecret(secret),
      tenantId: input.tenantId,
      role: input.role,
      name: input.name.slice(0, 200),
      owner: input.owner,
      createdAt: this.now(),
      expiresAt: input.expiresAt ?? null,
      revokedAt: null,
      lastUsedAt: null,
    };
    await this.repository.insert(record);
    return { key: `aion_${prefix}_${secret}`, record };
  }

  /** Looks the key up by prefix and checks the secret in constant time, then expiry and revocation. */
  async verify(presented: string): Promise<Principal> {
    const match = KEY_PATTERN.exec(presented);
    if (!match) throw new AionError('auth.invalid_credentials', 'invalid API key');
    const [, prefix, secret] = match as unknown as [string, string, string];
    const record = await this.lookup(prefix);
    const expected = Buffer.from(record?.secretHash ?? hashSecret('no-such-key'), 'hex');
    const actual = Buffer.from(hashSecret(secret), 'hex');
    if (!record || !timingSafeEqual(expected, actual))
      throw new AionError('auth.invalid_credentials', 'invalid API key');
    if (record.revokedAt)
      throw new AionError('auth.invalid_credentials', 'API key has been revoked');
    if (record.expiresAt && record.expiresAt.getTime() <= this.now().getTime())
      throw new AionError('auth.token_expired', 'API key has expired');
    this.touch(record.id);
    return {
      kind: 'api_key',
      tenantId: record.tenantId,
      subject: `key:${record.id}`,
      owner: record.owner,
      roles: [record.role],
      keyId: record.id,
    };
  }

  list(tenantId: string): Promise<ApiKeyRecord[]> {
    return this.repository.listByTenant(tenantId);
  }

  async revoke(tenantId: string, id: string): Promise<void> {
    if (!(await this.repository.revoke(tenantId, id, this.now())))
      throw AionError.notFound('API key', id);
    this.forget(id);
  }

  /** Drops a key from the lookup cache (it was revoked, here or on another replica). */
  forget(id: string): void {
    for (const [prefix, entry] of this.cache)
      if (entry.record?.id === id) this.cache.delete(prefix);
  }
}

/** In-memory repository for the embedded default and tests. */
export class MemoryApiKeyRepository implements ApiKeyRepository {
  private readonly byPrefix = new Map<string, ApiKeyRecord>();

  async insert(record: ApiKeyRecord): Promise<void> {
    if (this.byPrefix.has(record.prefix)) throw AionError.conflict('API key prefix collision');
    this.byPrefix.set(record.prefix, { ...record });
  }

  async findByPrefix(prefix: string): Promise<ApiKeyRecord | undefined> {
    const record = this.byPrefix.get(prefix);
    return record && { ...record };
  }

  async listByTenant(tenantId: string): Promise<ApiKeyRecord[]> {
    return [...this.byPrefix.values()]
      .filter((r) => r.tenantId === tenantId)
      .map((r) => ({ ...r }));
  }

  async revoke(tenantId: string, id: string, at: Date): Promise<boolean> {
    const record = [...this.byPrefix.values()].find((r) => r.id === id && r.tenantId === tenantId);
    if (!record) return false;
    record.revokedAt ??= at;
    return true;
  }

  async touch(id: string, at: Date): Promise<void> {
    const record = [...this.byPrefix.values()].find((r) => r.id === id);
    if (record) record.lastUsedAt = at;
  }
}
