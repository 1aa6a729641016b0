// Tables owned by the observability service (prefix `obs_`). drizzle-kit generates its migrations from here.
// Every tenant-scoped table carries tenant_id and the row-level-security policy in its migration.
import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  doublePrecision,
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
import { tenantIsolationPolicy } from '@aion/tenancy';

export const outbox = outboxTable('obs');
export const processedEvents = processedEventsTable('obs');

/** SLO definitions; the selectors are stored as derived when saved, so the rules stay stable. */
export const slos = pgTable(
  'obs_slos',
  {
    id: uuid('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    name: text('name').notNull(),
    service: text('service').notNull(),
    sli: text('sli').notNull(),
    metric: text('metric').notNull(),
    matchers: jsonb('matchers').$type<Record<string, string>>().notNull(),
    latencyThresholdMs: integer('latency_threshold_ms').notNull().default(0),
    objective: doublePrecision('objective').notNull(),
    windowDays: integer('window_days').notNull(),
    description: text('description').notNull().default(''),
    goodSelector: text('good_selector').notNull(),
    totalSelector: text('total_selector').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('obs_slos_name_idx').on(t.tenantId, t.name),
    check('obs_slos_sli_check', sql`sli in ('availability','latency','error_rate')`),
    check('obs_slos_objective_check', sql`objective > 0 and objective < 1`),
    check('obs_slos_window_check', sql`window_days between 7 and 90`),
    tenantIsolationPolicy('obs_slos'),
    // The SLO evaluator reads every tenant's SLOs (read only) in its own transaction.
    pgPolicy('obs_slos_evaluator', {
      as: 'permissive',
      for: 'select',
      using: sql`current_setting('aion.slo_evaluator', true) = 'on'`,
    }),
  ],
).enableRLS();

/**
 * Alerts as Alertmanager's webhook reported them: one row per firing (fingerprint and start), so a
 * repeated notification changes nothing and only a change of state is an event.
 */
export const alerts = pgTable(
  'obs_alerts',
  {
    id: uuid('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    fingerprint: text('fingerprint').notNull(),
    alertname: text('alertname').notNull(),
    sloId: text('slo_id').notNull().default(''),
    severity: text('severity').notNull().default(''),
    state: text('state').notNull(),
    burnRate: doublePrecision('burn_rate').notNull().default(0),
    labels: jsonb('labels').$type<Record<string, string>>().notNull(),
    annotations: jsonb('annotations').$type<Record<string, string>>().notNull(),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
    resolvedAt: timestamp('resolved_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('obs_alerts_firing_idx').on(t.tenantId, t.fingerprint, t.startedAt),
    index('obs_alerts_state_idx').on(t.tenantId, t.state),
    check('obs_alerts_state_check', sql`state in ('firing','resolved')`),
    tenantIsolationPolicy('obs_alerts'),
  ],
).enableRLS();

/** Custom alert rules; sync_status says whether Prometheus has them yet. */
export const alertRules = pgTable(
  'obs_alert_rules',
  {
    id: uuid('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    name: text('name').notNull(),
    expression: text('expression').notNull(),
    forDuration: text('for_duration').notNull().default(''),
    severity: text('severity').notNull(),
    labels: jsonb('labels').$type<Record<string, string>>().notNull(),
    annotations: jsonb('annotations').$type<Record<string, string>>().notNull(),
    syncStatus: text('sync_status').notNull().default('pending'),
    syncError: text('sync_error').notNull().default(''),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('obs_alert_rules_name_idx').on(t.tenantId, t.name),
    check('obs_alert_rules_severity_check', sql`severity in ('info','warning','critical')`),
    check('obs_alert_rules_sync_check', sql`sync_status in ('pending','synced','failed')`),
    tenantIsolationPolicy('obs_alert_rules'),
  ],
).enableRLS();

/**
 * Burn-rate snapshots of each SLO, taken periodically (the evaluator): the error ratio per
 * recorded window, each alert's burn rates and state, the budget left. One row per SLO and
 * slot (the time rounded down to the interval), so replicas evaluating the same slot write one.
 */
export const sloEvaluations = pgTable(
  'obs_slo_evaluations',
  {
    tenantId: text('tenant_id').notNull(),
    sloId: uuid('slo_id')
      .notNull()
      .references(() => slos.id, { onDelete: 'cascade' }),
    evaluatedAt: timestamp('evaluated_at', { withTimezone: true }).notNull(),
    /** Window -> error ratio; a window without data is absent. */
    errorRatios: jsonb('error_ratios').$type<Record<string, number>>().notNull(),
    /** Per alert: its windows, both burn rates (null without data), threshold and firing. */
    alerts: jsonb('alerts').$type<EvaluatedAlert[]>().notNull(),
    /** 1 - error ratio over the SLO window / budget; null without data. */
    budgetRemaining: doublePrecision('budget_remaining'),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.sloId, t.evaluatedAt] }),
    tenantIsolationPolicy('obs_slo_evaluations'),
  ],
).enableRLS();

export interface EvaluatedAlert {
  long: string;
  short: string;
  longBurnRate: number | null;
  shortBurnRate: number | null;
  threshold: number;
  firing: boolean;
}

/** A tenant's own dashboards (Grafana JSON models), beside the platform's generated ones. */
export const dashboards = pgTable(
  'obs_dashboards',
  {
    id: uuid('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    title: text('title').notNull(),
    model: jsonb('model').$type<Record<string, unknown>>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('obs_dashboards_title_idx').on(t.tenantId, t.title),
    tenantIsolationPolicy('obs_dashboards'),
  ],
).enableRLS();

/**
 * A tenant's LLM tracing (Langfuse) settings, one row per tenant; no row means off. The secret
 * key is write-only through the API (never read back).
 */
export const llmTracing = pgTable(
  'obs_llm_tracing',
  {
    tenantId: text('tenant_id').primaryKey(),
    enabled: boolean('enabled').notNull().default(false),
    langfuseUrl: text('langfuse_url').notNull().default(''),
    langfuseJurisdiction: text('langfuse_jurisdiction').notNull().default(''),
    publicKey: text('public_key').notNull().default(''),
    // The secret key's name in the deployment's secrets (never the key: see SecretFiles).
    secretKeyRef: text('secret_key_ref').notNull().default(''),
    maskedClassifications: text('masked_classifications').array().notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  () => [tenantIsolationPolicy('obs_llm_tracing')],
).enableRLS();
