// Tables owned by the sovereign-ai service (prefix `sov_`). drizzle-kit generates its migrations from here.
// Every tenant-scoped table carries tenant_id and the row-level-security policy in its migration.
import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { outboxTable, processedEventsTable } from '@aion/events';
import { tenantIsolationPolicy } from '@aion/tenancy';

export const outbox = outboxTable('sov');
export const processedEvents = processedEventsTable('sov');

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
};

export const residencyRules = pgTable(
  'sov_residency_rules',
  {
    id: uuid('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    dataJurisdiction: text('data_jurisdiction').notNull(),
    tier: text('tier').notNull(),
    action: text('action').notNull(),
    targetJurisdictions: text('target_jurisdictions').array().notNull(),
    priority: integer('priority').notNull(),
    description: text('description').notNull().default(''),
    ...timestamps,
  },
  (t) => [
    index('sov_residency_rules_order_idx').on(t.tenantId, t.priority, t.createdAt),
    check(
      'sov_residency_rules_tier_check',
      sql`tier in ('pii','financial','health','biometric','all')`,
    ),
    check('sov_residency_rules_action_check', sql`action in ('allow','deny','require_local')`),
    tenantIsolationPolicy('sov_residency_rules'),
  ],
).enableRLS();

/** Explicit enforcement decisions (API and routing) and violations reported by the orchestrator. */
export const residencyDecisions = pgTable(
  'sov_residency_decisions',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    tenantId: text('tenant_id').notNull(),
    taskId: text('task_id').notNull().default(''),
    dataJurisdiction: text('data_jurisdiction').notNull(),
    classification: text('classification').notNull(),
    attempted: text('attempted').array().notNull(),
    ruleId: text('rule_id').notNull(),
    allowed: boolean('allowed').notNull(),
    reason: text('reason').notNull(),
    /** Set for violations learnt from events, so a redelivered event is counted once. */
    eventId: text('event_id').unique(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('sov_residency_decisions_recent_idx').on(t.tenantId, t.createdAt),
    tenantIsolationPolicy('sov_residency_decisions'),
  ],
).enableRLS();

export const routingPolicies = pgTable(
  'sov_routing_policies',
  {
    id: uuid('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    name: text('name').notNull(),
    strategy: text('strategy').notNull(),
    primaryJurisdiction: text('primary_jurisdiction').notNull(),
    secondaryJurisdictions: text('secondary_jurisdictions').array().notNull(),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('sov_routing_policies_name_idx').on(t.tenantId, t.name),
    check(
      'sov_routing_policies_strategy_check',
      sql`strategy in ('strict','preferred','fallback')`,
    ),
    tenantIsolationPolicy('sov_routing_policies'),
  ],
).enableRLS();

export const regionalDeployments = pgTable(
  'sov_regional_deployments',
  {
    id: uuid('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    jurisdiction: text('jurisdiction').notNull(),
    region: text('region').notNull(),
    namespace: text('namespace').notNull(),
    modelId: text('model_id').notNull(),
    modelVersion: text('model_version').notNull().default(''),
    image: text('image').notNull(),
    replicas: integer('replicas').notNull(),
    status: text('status').notNull(),
    statusReason: text('status_reason').notNull().default(''),
    endpoint: text('endpoint').notNull().default(''),
    mode: text('mode').notNull(),
    ...timestamps,
  },
  (t) => [
    index('sov_regional_deployments_tenant_idx').on(t.tenantId, t.jurisdiction, t.createdAt),
    check(
      'sov_regional_deployments_status_check',
      sql`status in ('PENDING','DEPLOYING','ACTIVE','FAILED','DECOMMISSIONED')`,
    ),
    tenantIsolationPolicy('sov_regional_deployments'),
  ],
).enableRLS();

/** A tenant's overrides of the compliance map, one per jurisdiction. */
export const complianceMaps = pgTable(
  'sov_compliance_maps',
  {
    tenantId: text('tenant_id').notNull(),
    jurisdiction: text('jurisdiction').notNull(),
    data: jsonb('data').notNull(),
    ...timestamps,
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.jurisdiction] }),
    tenantIsolationPolicy('sov_compliance_maps'),
  ],
).enableRLS();

export const sovereignModels = pgTable(
  'sov_sovereign_models',
  {
    id: uuid('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    modelRef: text('model_ref').notNull(),
    name: text('name').notNull(),
    version: text('version').notNull().default(''),
    jurisdiction: text('jurisdiction').notNull(),
    status: text('status').notNull(),
    /** The subject that registered it (two-person rule); '' for rows older than the column. */
    registeredBy: text('registered_by').notNull().default(''),
    /**
     * The person behind that subject (`Principal.owner`), whom the two-person rule keeps from
     * approving; '' where the registrant was never recorded. Migration 0004 explains older rows.
     */
    registeredByOwner: text('registered_by_owner').notNull().default(''),
    decidedBy: text('decided_by').notNull().default(''),
    decisionReason: text('decision_reason').notNull().default(''),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('sov_sovereign_models_ref_idx').on(
      t.tenantId,
      t.modelRef,
      t.version,
      t.jurisdiction,
    ),
    check(
      'sov_sovereign_models_status_check',
      sql`status in ('PENDING','APPROVED','REJECTED','REVOKED')`,
    ),
    tenantIsolationPolicy('sov_sovereign_models'),
  ],
).enableRLS();

/**
 * Receipt signing keys: platform-wide, not tenant data (every tenant's receipts verify against
 * the same published keys). Private halves are stored encrypted.
 */
export const receiptKeys = pgTable('sov_receipt_keys', {
  kid: text('kid').primaryKey(),
  /**
   * 1 for the first key, n+1 for the key that supersedes key n. Unique, so replicas creating the
   * next key at the same moment insert it once: the losers' inserts do nothing and they read
   * back the winner's.
   */
  generation: integer('generation').notNull().unique(),
  publicJwk: jsonb('public_jwk').notNull(),
  encryptedPrivateKey: text('encrypted_private_key').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
});
