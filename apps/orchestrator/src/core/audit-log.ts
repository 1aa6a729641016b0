/**
 * The durable audit trail and usage ledger of a tenant: what audit.activity and usage.billing
 * carried, stored once per event. The store runs every call in the caller's tenant (RLS).
 */

export const AUDIT_OUTCOMES = ['success', 'denied', 'failure'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export const isAuditOutcome = (value: string): value is AuditOutcome =>
  (AUDIT_OUTCOMES as readonly string[]).includes(value);

export interface AuditEntry {
  eventId: string;
  occurredAt: Date;
  actor: string;
  action: string;
  resourceType: string;
  resourceId: string;
  outcome: AuditOutcome;
  details: Record<string, unknown>;
  source: string;
  correlationId: string;
}

export interface UsageEntry {
  eventId: string;
  occurredAt: Date;
  taskId: string;
  projectId: string;
  engine: string;
  /** The model that served ('' for events recorded before they named it). */
  model: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  latencyMs: number;
}

export interface AuditFilter {
  actor?: string | undefined;
  action?: string | undefined;
  outcome?: AuditOutcome | undefined;
  /** Inclusive. */
  since?: Date | undefined;
  /** Exclusive. */
  until?: Date | undefined;
}

export interface UsageTotal {
  /** YYYY-MM-DD, UTC. */
  day: string;
  engine: string;
  model: string;
  tasks: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface AuditLogStore {
  /** False when the event was already stored (a redelivery): nothing changes. */
  recordAudit(entry: AuditEntry): Promise<boolean>;
  /** False when the event was already stored: its usage is never counted twice. */
  recordUsage(entry: UsageEntry): Promise<boolean>;
  /** Newest first; ties broken by event id so pages never overlap. */
  listAudit(
    filter: AuditFilter,
    page: { limit: number; offset: number },
  ): Promise<{ items: AuditEntry[]; total: number }>;
  /** Sorted by day, then engine. */
  usageTotals(range: { since?: Date | undefined; until?: Date | undefined }): Promise<UsageTotal[]>;
}

/**
 * Reading the trail. A window is [since, until): one that ends before it starts is empty, not an
 * error (every well-formed request is answered). Totals have one row per day, engine and model with
 * usage, so even an unbounded window is bounded by what the tenant really used.
 */
export class AuditLogService {
  constructor(private readonly store: AuditLogStore) {}

  async list(filter: AuditFilter, page: { limit: number; offset: number }) {
    if (isEmpty(filter.since, filter.until)) return { items: [], total: 0 };
    return this.store.listAudit(filter, page);
  }

  /** Without bounds: the 30 days before until (default now). */
  async usageTotals(
    range: { since?: Date | undefined; until?: Date | undefined },
    now = new Date(),
  ): Promise<UsageTotal[]> {
    const until = range.until ?? now;
    const since = range.since ?? new Date(until.getTime() - DEFAULT_USAGE_DAYS * 86_400_000);
    if (isEmpty(since, until)) return [];
    return this.store.usageTotals({ since, until });
  }
}

export const DEFAULT_USAGE_DAYS = 30;

const isEmpty = (since: Date | undefined, until: Date | undefined) =>
  since !== undefined && until !== undefined && since.getTime() >= until.getTime();
