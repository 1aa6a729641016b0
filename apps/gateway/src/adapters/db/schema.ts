// Tables owned by the gateway (prefix `gw_`). drizzle-kit generates its migrations from here.
import { sql } from 'drizzle-orm';
import {
  index,
  integer,
  jsonb,
  pgPolicy,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { outboxTable, processedEventsTable } from '@aion/events';

/**
 * API keys, tenant-scoped. Verification must find a key by its prefix before the tenant is
 * known, so besides the tenant match the policy admits reads in an explicit lookup mode
 * (`aion.key_lookup`), which only the verification path switches on in its own transaction.
 */
const visible = sql`tenant_id = current_setting('aion.tenant_id', true) or current_setting('aion.key_lookup', true) = 'on'`;

export const apiKeys = pgTable(
  'gw_api_keys',
  {
    id: uuid('id').primaryKey(),
    prefix: text('prefix').notNull().unique(),
    secretHash: text('secret_hash').notNull(),
    tenantId: text('tenant_id').notNull(),
    role: text('role').notNull(),
    name: text('name').notNull(),
    /** The human identity behind the key (`Principal.owner`); migration 0004 explains old keys. */
    owner: text('owner').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
  },
  () => [
    pgPolicy('gw_api_keys_tenant_or_lookup', {
      as: 'permissive',
      for: 'all',
      using: visible,
      withCheck: sql`tenant_id = current_setting('aion.tenant_id', true)`,
    }),
  ],
).enableRLS();

const tenantOnly = sql`tenant_id = current_setting('aion.tenant_id', true)`;

/**
 * Users who log in with a password (argon2id); API keys remain the way for applications.
 * `username` is shown as given; `username_normalized` (NFKC, case-folded: core/usernames.ts) is
 * unique per tenant and what login looks up, so `alice`, `ALICE` and `ａｌｉｃｅ` are one account.
 */
export const users = pgTable(
  'gw_users',
  {
    id: uuid('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    username: text('username').notNull(),
    normalizedUsername: text('username_normalized').notNull(),
    passwordHash: text('password_hash').notNull(),
    role: text('role').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    disabledAt: timestamp('disabled_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('gw_users_tenant_username_normalized').on(t.tenantId, t.normalizedUsername),
    pgPolicy('gw_users_tenant_isolation', {
      as: 'permissive',
      for: 'all',
      using: tenantOnly,
      withCheck: tenantOnly,
    }),
  ],
).enableRLS();

/** Refresh tokens, stored hashed; each use rotates to a new token of the same family. */
export const refreshTokens = pgTable(
  'gw_refresh_tokens',
  {
    id: uuid('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    userId: uuid('user_id').notNull(),
    familyId: uuid('family_id').notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  () => [
    pgPolicy('gw_refresh_tokens_tenant_isolation', {
      as: 'permissive',
      for: 'all',
      using: tenantOnly,
      withCheck: tenantOnly,
    }),
  ],
).enableRLS();

/**
 * Idempotency-Key records, the truth behind repeats (core/idempotency.ts): one per tenant and
 * scope (principal, route, key, hashed as `key_hash`). The expiry purge runs across tenants in an
 * explicit mode (`aion.idempotency_purge`), which only the purge switches on in its own
 * transaction; it may delete, never write.
 */
export const idempotencyKeys = pgTable(
  'gw_idempotency_keys',
  {
    tenantId: text('tenant_id').notNull(),
    keyHash: text('key_hash').notNull(),
    requestHash: text('request_hash').notNull(),
    /** The task the key stands for, once a task route used it (derived unless the body named one). */
    taskId: text('task_id'),
    /** The answer repeats get; null while the first request runs or after it failed (5xx). */
    responseStatus: integer('response_status'),
    response: jsonb('response'),
    /** While the first request may still be running; a repeat of a non-task route waits (409). */
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.keyHash] }),
    index('gw_idempotency_keys_expires_idx').on(t.expiresAt),
    pgPolicy('gw_idempotency_keys_tenant_or_purge', {
      as: 'permissive',
      for: 'all',
      using: sql`tenant_id = current_setting('aion.tenant_id', true) or current_setting('aion.idempotency_purge', true) = 'on'`,
      withCheck: tenantOnly,
    }),
  ],
).enableRLS();

export const outbox = outboxTable('gw');
export const processedEvents = processedEventsTable('gw');
