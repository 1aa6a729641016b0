// Tables owned by the orchestrator (prefix `orc_`). drizzle-kit generates its migrations from here.
// Every tenant-scoped table carries tenant_id and the row-level-security policy in its migration.
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  date,
  index,
  integer,
  jsonb,
  numeric,
  pgPolicy,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { bytea, outboxTable, processedEventsTable } from '@aion/events';
import { tenantIsolationPolicy } from '@aion/tenancy';

export const tasks = pgTable(
  'orc_tasks',
  {
    tenantId: text('tenant_id').notNull(),
    id: text('id').notNull(),
    projectId: text('project_id').notNull().default(''),
    subject: text('subject').notNull(),
    intent: text('intent').notNull(),
    status: text('status').notNull(),
    request: jsonb('request').notNull(),
    requestHash: text('request_hash').notNull(),
    /** local | api | hybrid: where the task ran (taskRoute). */
    engineRoute: text('engine_route'),
    engineName: text('engine_name'),
    chosenBy: text('chosen_by'),
    reason: text('reason'),
    result: jsonb('result'),
    error: jsonb('error'),
    latencyMs: integer('latency_ms'),
    inputTokens: integer('input_tokens'),
    outputTokens: integer('output_tokens'),
    costUsd: numeric('cost_usd', { precision: 18, scale: 8, mode: 'number' }),
    /** Where the task ran and under which rule and model approval: what its receipt attests. */
    sovereignty: jsonb('sovereignty'),
    /** The receipt exactly as signed (the JWS payload) and its compact JWS. */
    receiptJson: text('receipt_json'),
    receiptJws: text('receipt_jws'),
    /** The replica that last moved the task (for an unfinished task: the one running it). */
    replicaId: text('replica_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    index('orc_tasks_tenant_created_idx').on(t.tenantId, t.createdAt),
    check(
      'orc_tasks_status_check',
      sql`status in ('QUEUED','ROUTED','RUNNING','OK','ERROR','TIMEOUT','CANCELED')`,
    ),
    index('orc_tasks_unfinished_idx')
      .on(t.updatedAt)
      .where(sql`status in ('QUEUED','ROUTED','RUNNING')`),
    tenantIsolationPolicy('orc_tasks'),
    // The stale-task reaper works across tenants inside its own transaction, as the outbox
    // relay does; every other statement stays scoped to one tenant.
    pgPolicy('orc_tasks_reaper', {
      as: 'permissive',
      for: 'all',
      using: sql`current_setting('aion.task_reaper', true) = 'on'`,
      withCheck: sql`current_setting('aion.task_reaper', true) = 'on'`,
    }),
  ],
).enableRLS();

/** Everything a task streamed, numbered, so SSE clients can resume from Last-Event-ID. */
export const taskEvents = pgTable(
  'orc_task_events',
  {
    tenantId: text('tenant_id').notNull(),
    taskId: text('task_id').notNull(),
    sequence: bigint('sequence', { mode: 'number' }).notNull(),
    kind: text('kind').notNull(),
    data: jsonb('data').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.taskId, t.sequence] }),
    tenantIsolationPolicy('orc_task_events'),
  ],
).enableRLS();

/** Spending limits per tenant (project_id '') and per project; both apply to a project's tasks. */
export const budgets = pgTable(
  'orc_budgets',
  {
    tenantId: text('tenant_id').notNull(),
    projectId: text('project_id').notNull().default(''),
    limitUsd: numeric('limit_usd', { precision: 18, scale: 8, mode: 'number' }).notNull(),
    reservedUsd: numeric('reserved_usd', { precision: 18, scale: 8, mode: 'number' })
      .notNull()
      .default(0),
    committedUsd: numeric('committed_usd', { precision: 18, scale: 8, mode: 'number' })
      .notNull()
      .default(0),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.projectId] }),
    // Reservations are admitted only within the limit (see budget repository); commits record what
    // was actually spent, which may exceed an estimate, so the table checks signs, not the sum.
    check(
      'orc_budgets_amounts_check',
      sql`limit_usd >= 0 and reserved_usd >= 0 and committed_usd >= 0`,
    ),
    tenantIsolationPolicy('orc_budgets'),
  ],
).enableRLS();

export const reservations = pgTable(
  'orc_budget_reservations',
  {
    tenantId: text('tenant_id').notNull(),
    requestId: text('request_id').notNull(),
    projectId: text('project_id').notNull().default(''),
    amountUsd: numeric('amount_usd', { precision: 18, scale: 8, mode: 'number' }).notNull(),
    committedUsd: numeric('committed_usd', { precision: 18, scale: 8, mode: 'number' }),
    status: text('status').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.requestId] }),
    check(
      'orc_budget_reservations_status_check',
      sql`status in ('RESERVED','COMMITTED','RELEASED')`,
    ),
    tenantIsolationPolicy('orc_budget_reservations'),
  ],
).enableRLS();

/**
 * The dead-letter queue: tasks whose every attempt failed (each allowed engine, or the timeout)
 * and bus messages a consumer gave up on after its retries. Kept until an operator resolves or
 * replays them; `ref` (task id, or topic/partition/offset/group) makes recording idempotent.
 */
export const deadLetters = pgTable(
  'orc_dead_letters',
  {
    tenantId: text('tenant_id').notNull(),
    id: uuid('id').notNull().defaultRandom(),
    source: text('source').notNull(),
    ref: text('ref').notNull(),
    /** For tasks: the task id; for messages: the original topic. */
    subject: text('subject').notNull(),
    errorCode: text('error_code').notNull(),
    errorMessage: text('error_message').notNull(),
    retryCount: integer('retry_count').notNull(),
    /** The task request (tasks) or the decoded envelope summary (messages). */
    payload: jsonb('payload').notNull(),
    /** Messages only: the record as produced, replayed byte for byte. */
    messageKey: text('message_key'),
    messageValue: bytea('message_value'),
    messageHeaders: jsonb('message_headers'),
    failedAt: timestamp('failed_at', { withTimezone: true }).notNull().defaultNow(),
    resolvedAt: timestamp('resolved_at', { withTimezone: true }),
    resolvedBy: text('resolved_by'),
    resolution: text('resolution'),
    note: text('note'),
    /** What a replay produced: the new task id or the republished event id. */
    replayRef: text('replay_ref'),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    uniqueIndex('orc_dead_letters_ref_idx').on(t.tenantId, t.source, t.ref),
    index('orc_dead_letters_open_idx').on(t.tenantId, t.resolvedAt, t.failedAt),
    check('orc_dead_letters_source_check', sql`source in ('task','message')`),
    check(
      'orc_dead_letters_resolution_check',
      sql`(resolved_at is null and resolution is null) or (resolved_at is not null and resolution in ('resolved','replayed'))`,
    ),
    tenantIsolationPolicy('orc_dead_letters'),
  ],
).enableRLS();

/**
 * Learning governance: agent roles and the budget of automatic prompt updates each may take.
 * The usage columns are only changed by one conditional UPDATE (see governance repository), so
 * concurrent updates serialise on the row and cannot both pass the daily limit or cooldown.
 */
export const agentRoles = pgTable(
  'orc_agent_roles',
  {
    tenantId: text('tenant_id').notNull(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    dailyUpdateLimit: integer('daily_update_limit').notNull(),
    cooldownSeconds: integer('cooldown_seconds').notNull(),
    requiresApproval: boolean('requires_approval').notNull(),
    activeVersion: integer('active_version'),
    lastVersion: integer('last_version').notNull().default(0),
    /** UTC day the counter below belongs to. */
    usageDay: date('usage_day', { mode: 'string' }),
    updatesToday: integer('updates_today').notNull().default(0),
    lastAutomaticUpdateAt: timestamp('last_automatic_update_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.name] }),
    check(
      'orc_agent_roles_limits_check',
      sql`daily_update_limit between 0 and 10000 and cooldown_seconds between 0 and 2592000 and updates_today >= 0 and last_version >= 0`,
    ),
    tenantIsolationPolicy('orc_agent_roles'),
  ],
).enableRLS();

export const promptVersions = pgTable(
  'orc_prompt_versions',
  {
    tenantId: text('tenant_id').notNull(),
    role: text('role').notNull(),
    version: integer('version').notNull(),
    prompt: text('prompt').notNull(),
    source: text('source').notNull(),
    status: text('status').notNull(),
    reason: text('reason').notNull().default(''),
    proposedBy: text('proposed_by').notNull(),
    /** The person behind the proposer (four eyes compare it); migration 0008 explains old rows. */
    proposedByOwner: text('proposed_by_owner').notNull(),
    decidedBy: text('decided_by'),
    decidedAt: timestamp('decided_at', { withTimezone: true }),
    decisionNote: text('decision_note'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.role, t.version] }),
    check('orc_prompt_versions_source_check', sql`source in ('manual','automatic')`),
    check(
      'orc_prompt_versions_status_check',
      sql`status in ('pending_approval','active','superseded','rejected')`,
    ),
    // At most one active version per role, whatever races happen.
    uniqueIndex('orc_prompt_versions_one_active_idx')
      .on(t.tenantId, t.role)
      .where(sql`status = 'active'`),
    tenantIsolationPolicy('orc_prompt_versions'),
  ],
).enableRLS();

export const outbox = outboxTable('orc');
export const processedEvents = processedEventsTable('orc');

/**
 * Engine circuit breakers as every orchestrator replica sees them (BreakerRegistry's shared store).
 * Platform-wide on purpose, so without tenant_id or row-level security: a breaker guards an engine
 * that every tenant's tasks share, and an engine that fails for one tenant's tasks fails for all.
 * Rows change when a breaker changes state (open, trial claimed, closed, reset), conditionally on
 * `version`, and when replicas add their counts (once per sync interval); never per call. Who may
 * see `last_failure` (an engine's error text, possibly about another tenant's task) and who may
 * reset is decided by the gRPC handlers: the platform tenant's admins.
 */
export const circuitBreakers = pgTable(
  'orc_circuit_breakers',
  {
    name: text('name').primaryKey(),
    state: text('state').notNull().default('closed'),
    version: bigint('version', { mode: 'number' }).notNull().default(0),
    resets: bigint('resets', { mode: 'number' }).notNull().default(0),
    /** Open: when a trial call may run. */
    trialAt: timestamp('trial_at', { withTimezone: true }),
    /** Half-open: the replica running the trial call and until when its claim holds. */
    trialBy: text('trial_by'),
    trialUntil: timestamp('trial_until', { withTimezone: true }),
    opened: bigint('opened', { mode: 'number' }).notNull().default(0),
    successes: bigint('successes', { mode: 'number' }).notNull().default(0),
    failures: bigint('failures', { mode: 'number' }).notNull().default(0),
    rejections: bigint('rejections', { mode: 'number' }).notNull().default(0),
    lastFailure: text('last_failure'),
    changedBy: text('changed_by'),
    changedAt: timestamp('changed_at', { withTimezone: true }).notNull().defaultNow(),
  },
  () => [
    check('orc_circuit_breakers_state_check', sql`state in ('closed','open','half_open')`),
    check(
      'orc_circuit_breakers_counts_check',
      sql`version >= 0 and resets >= 0 and opened >= 0 and successes >= 0 and failures >= 0 and rejections >= 0`,
    ),
  ],
);

/**
 * The durable audit trail: every audit.recorded event of a tenant (denied attempts too), stored
 * once per event id however often the bus delivers it. Rows are only ever inserted.
 */
export const auditLog = pgTable(
  'orc_audit_log',
  {
    tenantId: text('tenant_id').notNull(),
    eventId: text('event_id').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    resourceType: text('resource_type').notNull(),
    resourceId: text('resource_id').notNull(),
    outcome: text('outcome').notNull(),
    details: jsonb('details').notNull(),
    /** The producing service (envelope source). */
    source: text('source').notNull(),
    /** The request id the action belonged to (envelope correlation id). */
    correlationId: text('correlation_id').notNull(),
    recordedAt: timestamp('recorded_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.eventId] }),
    index('orc_audit_log_time_idx').on(t.tenantId, t.occurredAt),
    index('orc_audit_log_actor_idx').on(t.tenantId, t.actor, t.occurredAt),
    index('orc_audit_log_action_idx').on(t.tenantId, t.action, t.occurredAt),
    check('orc_audit_log_outcome_check', sql`outcome in ('success','denied','failure')`),
    tenantIsolationPolicy('orc_audit_log'),
  ],
).enableRLS();

/**
 * What each finished task cost (usage.recorded), one row per event id; totals by day, engine, model
 * are summed on read, so a redelivered event can never be counted twice.
 */
export const usageRecords = pgTable(
  'orc_usage_records',
  {
    tenantId: text('tenant_id').notNull(),
    eventId: text('event_id').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
    taskId: text('task_id').notNull(),
    projectId: text('project_id').notNull(),
    engine: text('engine').notNull(),
    model: text('model').notNull().default(''),
    inputTokens: bigint('input_tokens', { mode: 'number' }).notNull(),
    outputTokens: bigint('output_tokens', { mode: 'number' }).notNull(),
    costUsd: numeric('cost_usd', { precision: 18, scale: 8, mode: 'number' }).notNull(),
    latencyMs: integer('latency_ms').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.eventId] }),
    index('orc_usage_records_time_idx').on(t.tenantId, t.occurredAt),
    check(
      'orc_usage_records_amounts_check',
      sql`input_tokens >= 0 and output_tokens >= 0 and cost_usd >= 0 and latency_ms >= 0`,
    ),
    tenantIsolationPolicy('orc_usage_records'),
  ],
).enableRLS();

/**
 * Platform-wide: each orchestrator replica's lease, renewed by a timer while it lives. The tasks
 * of a replica whose lease lapsed are recovered without waiting for the task timeout (see the
 * stale-task reaper). `held_since` starts the replica's current unbroken run of renewals.
 */
export const replicaLeases = pgTable('orc_replica_leases', {
  replicaId: text('replica_id').primaryKey(),
  heldSince: timestamp('held_since', { withTimezone: true }).notNull(),
  renewedAt: timestamp('renewed_at', { withTimezone: true }).notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
});
