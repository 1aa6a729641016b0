import type { JsonObject } from '@bufbuild/protobuf';
import { AionError } from '@aion/errors';
import { nextPageToken, pageWindow } from '@aion/grpc';
import { isAuditOutcome, type AuditEntry, type AuditLogService } from '../core/audit-log';
import type { StatsService } from '../core/stats';

const MAX_FILTER = 500;

function filterText(value: string, field: string): string | undefined {
  if (value.length > MAX_FILTER)
    throw AionError.validation(`${field} is longer than ${MAX_FILTER} characters`, [
      { field, message: `at most ${MAX_FILTER} characters` },
    ]);
  return value || undefined;
}

function instant(value: string, field: string): Date | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  // RFC 3339 with an explicit offset; Date alone would also take "2026" or "May 5".
  if (
    !/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/i.test(value) ||
    Number.isNaN(date.getTime())
  )
    throw AionError.validation(`${field} must be an RFC 3339 timestamp`, [
      { field, message: 'an RFC 3339 timestamp with offset, e.g. 2026-01-31T00:00:00Z' },
    ]);
  return date;
}

const recordJson = (e: AuditEntry) => ({
  id: e.eventId,
  time: e.occurredAt.toISOString(),
  actor: e.actor,
  action: e.action,
  resourceType: e.resourceType,
  resourceId: e.resourceId,
  outcome: e.outcome,
  details: e.details as JsonObject,
  source: e.source,
  correlationId: e.correlationId,
});

/**
 * The audit-trail RPCs of aion.v1.OrchestratorAdminService, in the caller's tenant only. The
 * trail names who did what (and who was refused), so it and the stats are for operators and
 * admins; usage totals are what the budget readers already see.
 */
export function auditHandlers(trail: AuditLogService, stats: StatsService) {
  return {
    handlers: {
      getStats: async (req: { windowHours: number }) => {
        const s = await stats.summary(req.windowHours);
        return {
          since: s.since.toISOString(),
          until: s.until.toISOString(),
          tasksByStatus: Object.entries(s.tasksByStatus).map(([status, n]) => ({
            status,
            count: BigInt(n),
          })),
          tasksInFlight: BigInt(s.tasksInFlight),
          latencyP50Ms: s.latencyP50Ms,
          latencyP95Ms: s.latencyP95Ms,
          deadLettersOpen: BigInt(s.deadLettersOpen),
          promptApprovalsPending: BigInt(s.promptApprovalsPending),
          costUsd: s.costUsd,
          inputTokens: BigInt(s.inputTokens),
          outputTokens: BigInt(s.outputTokens),
          auditSuccess: BigInt(s.audit.success),
          auditDenied: BigInt(s.audit.denied),
          auditFailure: BigInt(s.audit.failure),
        };
      },
      listAuditRecords: async (req: {
        actor: string;
        action: string;
        outcome: string;
        since: string;
        until: string;
        page?: { pageSize: number; pageToken: string } | undefined;
      }) => {
        if (req.outcome && !isAuditOutcome(req.outcome))
          throw AionError.validation('outcome must be success, denied or failure', [
            { field: 'outcome', message: 'success, denied or failure' },
          ]);
        const { limit, offset } = pageWindow(req.page);
        const { items, total } = await trail.list(
          {
            actor: filterText(req.actor, 'actor'),
            action: filterText(req.action, 'action'),
            outcome: isAuditOutcome(req.outcome) ? req.outcome : undefined,
            since: instant(req.since, 'since'),
            until: instant(req.until, 'until'),
          },
          { limit, offset },
        );
        return {
          records: items.map(recordJson),
          page: {
            nextPageToken: nextPageToken(offset, items.length, total),
            totalSize: BigInt(total),
          },
        };
      },
      getUsageTotals: async (req: { since: string; until: string }) => {
        const totals = await trail.usageTotals({
          since: instant(req.since, 'since'),
          until: instant(req.until, 'until'),
        });
        return {
          totals: totals.map((t) => ({
            day: t.day,
            engine: t.engine,
            model: t.model,
            tasks: BigInt(t.tasks),
            inputTokens: BigInt(t.inputTokens),
            outputTokens: BigInt(t.outputTokens),
            costUsd: t.costUsd,
          })),
        };
      },
    },
    permissions: {
      listAuditRecords: 'audit:read',
      getStats: 'audit:read',
      getUsageTotals: 'budget:read',
    },
  } as const;
}
