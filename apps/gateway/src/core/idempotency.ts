import { createHash } from 'node:crypto';

/** The stored outcome of the first request with an Idempotency-Key. */
export interface StoredResponse {
  status: number;
  /** Absent when the answer had no JSON body. */
  body?: unknown;
  headers: Record<string, string>;
}

/** Where a key lives: its tenant, and the hash of who used it where (`idempotencyScope`). */
export interface IdempotencyScope {
  tenantId: string;
  keyHash: string;
  /** The task id a task route submits with when the request names none (`derivedTaskId`). */
  taskId: string;
}

/** A record as the store holds it. */
export interface IdempotencyRecord {
  requestHash: string;
  /** Set once the first request answered with a status below 500. */
  response?: StoredResponse;
  /** True while the request that holds the key may still be running. */
  leased: boolean;
}

/**
 * The durable record of Idempotency-Keys (PostgreSQL, `gw_idempotency_keys`). Times are the
 * database's, so replicas with skewed clocks agree on leases and expiry.
 */
export interface IdempotencyStore {
  /**
   * Claims the key for a first request (or one whose record expired, which starts afresh);
   * answers the live record instead when there is one.
   */
  claim(
    scope: IdempotencyScope,
    requestHash: string,
    ttlMs: number,
    leaseMs: number,
  ): Promise<IdempotencyRecord | undefined>;
  /** Takes over a record nobody holds (its request failed or its gateway died); false if taken. */
  retake(scope: IdempotencyScope, leaseMs: number): Promise<boolean>;
  /** Stores the answer repeats get. */
  complete(scope: IdempotencyScope, response: StoredResponse, taskId?: string): Promise<void>;
  /** Ends the lease and keeps the record: a task route's task may exist, repeats submit it again. */
  release(scope: IdempotencyScope, taskId?: string): Promise<void>;
  /** Deletes a record whose request failed before anything worth keeping happened. */
  forget(scope: IdempotencyScope): Promise<void>;
  /** Deletes up to `limit` expired records of every tenant; returns how many. */
  purgeExpired(limit: number): Promise<number>;
}

/**
 * What to do with a request whose key already has a record: refuse another payload (422), replay
 * a stored answer, run again where that is safe (`resubmit`), or refuse while the first runs (409).
 */
export type Repeat = 'reused' | 'replay' | 'resubmit' | 'retake' | 'in_progress';

/**
 * A task route submits with the task id the key derives, and Submit is idempotent by task id, so
 * running it again can only find the task the first attempt created (or create it, if the first
 * never got that far): whatever failed in between, and even while the first is still running.
 * Other routes have no such identity: a repeat waits for the first (409) unless nobody holds it.
 */
export function repeatOf(
  record: IdempotencyRecord,
  requestHash: string,
  submitsTask: boolean,
): Repeat {
  if (record.requestHash !== requestHash) return 'reused';
  if (record.response) return 'replay';
  if (submitsTask) return 'resubmit';
  return record.leased ? 'in_progress' : 'retake';
}

/** Fixed namespace of Aion's idempotent task ids (a random v4 UUID, chosen once; never change it). */
export const TASK_ID_NAMESPACE = '3c4f2a47-6f0e-4d2b-9a61-8f1e5b7d2c90';

/** RFC 9562 UUID version 5: SHA-1 of namespace and name, with version and variant bits set. */
export function uuidV5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  if (ns.length !== 16) throw new Error(`not a UUID: ${namespace}`);
  const bytes = createHash('sha1')
    .update(Buffer.concat([ns, Buffer.from(name, 'utf8')]))
    .digest()
    .subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A key's scope: per tenant, principal (API key or user), method and path, as keys were always
 * scoped, so one client's key never touches another's work. Lines separate the parts: none of
 * them contains a newline (the key is visible ASCII, the path has none).
 */
export function idempotencyScope(
  tenantId: string,
  subject: string,
  method: string,
  path: string,
  key: string,
): IdempotencyScope {
  const scope = `${subject}\n${method} ${path}\n${key}`;
  return {
    tenantId,
    keyHash: createHash('sha256').update(scope).digest('hex'),
    taskId: derivedTaskId(tenantId, scope),
  };
}

/**
 * The task a key stands for: a UUIDv5 of tenant and scope, the same on every replica and after
 * every restart, so a retry submits the very task the first attempt did.
 */
export function derivedTaskId(tenantId: string, scope: string): string {
  return uuidV5(TASK_ID_NAMESPACE, `${tenantId}\n${scope}`);
}

export function requestHash(body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(body ?? null))
    .digest('hex');
}
