import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { isRole, type Principal, type Role } from '@aion/auth';
import { AionError } from '@aion/errors';
import { isValidTenantId } from '@aion/tenancy';
import { PasswordHashPool, type PasswordHasher } from './passwords/password-hash-pool';
import { normalizeNewUsername, normalizeUsername } from './usernames';

export interface UserRecord {
  id: string;
  tenantId: string;
  /** As it was given at creation; shown, never compared. */
  username: string;
  /** `normalizeUsername(username)`: unique per tenant, what login looks up. */
  normalizedUsername: string;
  passwordHash: string;
  role: Role;
  disabledAt: Date | null;
}

export interface RefreshRecord {
  id: string;
  tenantId: string;
  userId: string;
  familyId: string;
  tokenHash: string;
  expiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
}

export interface UserStore {
  find(tenantId: string, normalizedUsername: string): Promise<UserRecord | undefined>;
  findById(tenantId: string, id: string): Promise<UserRecord | undefined>;
  /** Throws state.conflict when the normalised username is taken in the tenant. */
  create(user: UserRecord): Promise<void>;
}

export interface RefreshStore {
  insert(token: RefreshRecord): Promise<void>;
  find(tenantId: string, tokenHash: string): Promise<RefreshRecord | undefined>;
  /** Marks the token used; false when it already was (a replay). */
  markUsed(tenantId: string, id: string): Promise<boolean>;
  revokeFamily(tenantId: string, familyId: string): Promise<void>;
}

export type AttemptReservation =
  | { allowed: true; /** 1-based: this attempt's place among the counted ones. */ attempt: number }
  | { allowed: false; retryAfterSeconds: number };

/**
 * Login attempts per account with expiry (Redis across replicas, memory in embedded mode). An
 * attempt is taken before the password is checked, atomically, so parallel guesses cannot all
 * pass a check made before any of them failed.
 */
export interface AttemptCounter {
  /**
   * Takes one of `max` attempts of `key` (failures so far plus checks in flight) and restarts its
   * `windowSeconds` expiry; refused, without counting, when all are taken.
   */
  reserve(key: string, max: number, windowSeconds: number): Promise<AttemptReservation>;
  /** Gives back a reserved attempt whose password was never checked. */
  release(key: string): Promise<void>;
  /** Forgets the attempts of `key` (a successful login). */
  reset(key: string): Promise<void>;
}

export interface SessionOptions {
  signingSecret: Uint8Array;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  maxAttempts: number;
  lockoutSeconds: number;
  /** The password hash pool's size and queue (ignored when a hasher is passed in). */
  hashing?: { workers: number; maxQueue: number };
}

const ISSUER = 'aion-gateway';
const AUDIENCE = 'aion';
const DEFAULT_HASHING = { workers: 2, maxQueue: 64 };
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const locked = (retryAfterSeconds: number) =>
  new AionError('auth.account_locked', 'too many failed logins; try again later', {
    retryAfterSeconds,
  });

export interface TokenPair {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  refresh_expires_in: number;
}

/**
 * Password login with lockout after repeated failures, short-lived access tokens (HS256 JWTs
 * only this gateway issues) and rotating refresh tokens: each refresh token works once; using one
 * twice revokes its whole family, since only a stolen copy would be replayed.
 */
export class SessionService {
  private readonly hasher: PasswordHasher;
  private readonly ownsHasher: boolean;
  /** A hash to check against when the user does not exist, so timing does not reveal names. */
  private decoy: Promise<string> | undefined;

  constructor(
    private readonly users: UserStore,
    private readonly refresh: RefreshStore,
    private readonly attempts: AttemptCounter,
    private readonly options: SessionOptions,
    hasher?: PasswordHasher,
  ) {
    this.ownsHasher = !hasher;
    this.hasher = hasher ?? new PasswordHashPool(options.hashing ?? DEFAULT_HASHING);
  }

  /** Stops the password hash workers this service started. */
  async close(): Promise<void> {
    if (this.ownsHasher) await this.hasher.close();
  }

  async createUser(
    tenantId: string,
    username: string,
    password: string,
    role: Role,
  ): Promise<Omit<UserRecord, 'passwordHash' | 'normalizedUsername'>> {
    if (password.length < 12)
      throw AionError.validation('password must be at least 12 characters', [
        { field: 'password', message: 'at least 12 characters' },
      ]);
    const normalizedUsername = normalizeNewUsername(username);
    const user: UserRecord = {
      id: randomUUID(),
      tenantId,
      username,
      normalizedUsername,
      passwordHash: await this.hasher.hash(password),
      role,
      disabledAt: null,
    };
    await this.users.create(user);
    const { passwordHash: _hash, normalizedUsername: _key, ...visible } = user;
    return visible;
  }

  async login(tenantId: string, username: string, password: string): Promise<TokenPair> {
    if (!isValidTenantId(tenantId))
      throw new AionError('auth.invalid_credentials', 'invalid tenant, username or password');
    const normalizedUsername = normalizeUsername(username);
    const key = `${tenantId}:${normalizedUsername}`;
    const { maxAttempts, lockoutSeconds } = this.options;
    const reservation = await this.attempts.reserve(key, maxAttempts, lockoutSeconds);
    if (!reservation.allowed) throw locked(reservation.retryAfterSeconds);
    let user: UserRecord | undefined;
    let valid: boolean;
    try {
      user = await this.users.find(tenantId, normalizedUsername);
      valid = await this.hasher.verify(password, user?.passwordHash ?? (await this.decoyHash()));
    } catch (err) {
      // Nothing was checked (store or hash pool unavailable): the attempt is not a failure.
      await this.attempts.release(key).catch(() => undefined);
      throw err;
    }
    if (!user || !valid || user.disabledAt) {
      // The reserved attempt stays counted: it is this failure.
      if (reservation.attempt >= maxAttempts) throw locked(lockoutSeconds);
      throw new AionError('auth.invalid_credentials', 'invalid tenant, username or password');
    }
    await this.attempts.reset(key);
    return this.issue(user, randomUUID());
  }

  async refreshTokens(presented: string): Promise<TokenPair> {
    const match = /^aionrt\.([a-zA-Z0-9][a-zA-Z0-9_-]{0,62})\.([A-Za-z0-9_-]{43})$/.exec(presented);
    if (!match) throw new AionError('auth.invalid_credentials', 'invalid refresh token');
    const tenantId = match[1]!;
    const record = await this.refresh.find(tenantId, sha256(presented));
    if (!record || record.revokedAt || record.expiresAt.getTime() <= Date.now())
      throw new AionError('auth.invalid_credentials', 'invalid refresh token');
    if (!(await this.refresh.markUsed(tenantId, record.id))) {
      await this.refresh.revokeFamily(tenantId, record.familyId);
      throw new AionError(
        'auth.invalid_credentials',
        'refresh token was already used; every session of this login was revoked',
      );
    }
    const user = await this.users.findById(tenantId, record.userId);
    if (!user || user.disabledAt)
      throw new AionError('auth.invalid_credentials', 'invalid refresh token');
    return this.issue(user, record.familyId);
  }

  /** Verifies an access token this gateway issued. */
  async verifyAccessToken(token: string): Promise<Principal> {
    try {
      const { payload } = await jwtVerify(token, this.options.signingSecret, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
        clockTolerance: 5,
        typ: 'at+jwt',
      });
      const role = String(payload['role']);
      const tenantId = String(payload['tenant_id']);
      if (!isRole(role) || !isValidTenantId(tenantId)) throw new Error('bad claims');
      const subject = `user:${String(payload.sub)}`;
      return { kind: 'user', tenantId, subject, owner: subject, roles: [role] };
    } catch (err) {
      if (err instanceof Error && err.name === 'JWTExpired')
        throw new AionError('auth.token_expired', 'access token has expired');
      throw new AionError('auth.invalid_credentials', 'invalid token');
    }
  }

  isOwnToken(token: string): boolean {
    try {
      const payload = JSON.parse(
        Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'),
      ) as { iss?: string };
      return payload.iss === ISSUER;
    } catch {
      return false;
    }
  }

  private decoyHash(): Promise<string> {
    this.decoy ??= this.hasher.hash(randomBytes(16).toString('hex')).catch((err: unknown) => {
      this.decoy = undefined;
      throw err;
    });
    return this.decoy;
  }

  private async issue(user: UserRecord, familyId: string): Promise<TokenPair> {
    const access = await new SignJWT({ tenant_id: user.tenantId, role: user.role })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(user.id)
      .setIssuedAt()
      .setJti(randomUUID())
      .setExpirationTime(`${this.options.accessTtlSeconds}s`)
      .sign(this.options.signingSecret);
    const refreshToken = `aionrt.${user.tenantId}.${randomBytes(32).toString('base64url')}`;
    await this.refresh.insert({
      id: randomUUID(),
      tenantId: user.tenantId,
      userId: user.id,
      familyId,
      tokenHash: sha256(refreshToken),
      expiresAt: new Date(Date.now() + this.options.refreshTtlSeconds * 1000),
      usedAt: null,
      revokedAt: null,
    });
    return {
      access_token: access,
      token_type: 'Bearer',
      expires_in: this.options.accessTtlSeconds,
      refresh_token: refreshToken,
      refresh_expires_in: this.options.refreshTtlSeconds,
    };
  }
}
