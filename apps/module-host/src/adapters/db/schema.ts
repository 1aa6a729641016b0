// Tables owned by the module-host service (prefix `mod_`). drizzle-kit generates its migrations from here.
// Packages are platform-wide (installed by operators for every tenant), so these tables carry no
// tenant_id and need no row-level security; invocations are tenant-scoped and leave events instead.
import {
  customType,
  index,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
  unique,
} from 'drizzle-orm/pg-core';
import { outboxTable, processedEventsTable } from '@aion/events';
import { tenantIsolationPolicy } from '@aion/tenancy';
import type { AgentManifest } from '../../core/manifest';

const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (value) => new Uint8Array(value),
});

export const packages = pgTable(
  'mod_packages',
  {
    id: uuid('id').primaryKey(),
    name: text('name').notNull(),
    version: text('version').notNull(),
    manifest: jsonb('manifest').$type<AgentManifest>().notNull(),
    intents: text('intents').array().notNull(),
    wasm: bytea('wasm').notNull(),
    digestSha256: text('digest_sha256').notNull(),
    installedAt: timestamp('installed_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique('mod_packages_name_version').on(t.name, t.version),
    index('mod_packages_intents_idx').using('gin', t.intents),
  ],
);

export const packageFiles = pgTable(
  'mod_package_files',
  {
    packageId: uuid('package_id')
      .notNull()
      .references(() => packages.id, { onDelete: 'cascade' }),
    path: text('path').notNull(),
    content: bytea('content').notNull(),
  },
  (t) => [primaryKey({ columns: [t.packageId, t.path] })],
);

/**
 * Packages an install refused (unsigned, untrusted key, tampered, no SBOM, a denied component):
 * what was learnt about them, for the refusing tenant to inspect and delete. Never their bytes,
 * so nothing here can run.
 */
export const quarantine = pgTable(
  'mod_quarantine',
  {
    id: uuid('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    reference: text('reference').notNull(),
    digest: text('digest'),
    name: text('name'),
    version: text('version'),
    reason: text('reason').notNull(),
    message: text('message').notNull(),
    config: jsonb('config').$type<Record<string, unknown>>(),
    sbom: jsonb('sbom').$type<Record<string, unknown>>(),
    quarantinedAt: timestamp('quarantined_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('mod_quarantine_tenant_idx').on(t.tenantId, t.quarantinedAt),
    tenantIsolationPolicy('mod_quarantine'),
  ],
).enableRLS();

export const outbox = outboxTable('mod');
export const processedEvents = processedEventsTable('mod');
