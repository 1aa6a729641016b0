import { AionError } from '@aion/errors';

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

/** Longest window of daily usage totals one request may ask for. */
export const MAX_USAGE_DAYS = 366;

/** Reading the trail: checks the windows asked for, then asks the store (tenant-scoped). */
export class AuditLogService {
  constructor(private readonly store: AuditLogStore) {}

  async list(filter: AuditFilter, page: { limit: number; offset: number }) {
    checkWindow(filter.since, filter.until);
    return this.store.listAudit(filter, page);
  }

  /** Without bounds: the last 30 days. */
  async usageTotals(
    range: { since?: Date | undefined; until?: Date | undefined },
    now = new Date(),
  ) {
    const until = range.until ?? now;
    const since = range.since ?? new Date(until.getTime() - 30 * DAY_MS);
    checkWindow(since, until);
    if (until.getTime() - since.getTime() > MAX_USAGE_DAYS * DAY_MS)
      throw AionError.validation(`a usage window is at most ${MAX_USAGE_DAYS} days`, [
        { field: 'since', message: `at most ${MAX_USAGE_DAYS} days before until` },
      ]);
    return this.store.usageTotals({ since, until });
  }
}

const DAY_MS = 86_400_000;

function checkWindow(since: Date | undefined, until: Date | undefined): void {
  if (since && until && since.getTime() >= until.getTime())
    throw AionError.validation('since must be before until', [
      { field: 'since', message: 'must be before until' },
    ]);
}
