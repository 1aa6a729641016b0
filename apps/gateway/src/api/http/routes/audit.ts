import * as z from 'zod/v4';
import type { OrchestratorAdminService } from '@aion/contracts';
import type { ClientOf } from '@aion/grpc';
import { route, type Route } from '../routing/route';
import { PageInfo, PageQuery, queryInt, Timestamp } from '../../wire-schemas';

const Filter = z.string().min(1).max(500);

/**
 * An instant in a query: RFC 3339 as the document's date-time says, so with seconds (zod's
 * datetime alone would also take 12:00Z) and without leap seconds (which zod refuses).
 */
const INSTANT =
  /^\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;
const Instant = Timestamp.regex(INSTANT, 'must be an RFC 3339 timestamp with seconds').meta({
  openapi: { type: 'string', format: 'date-time', pattern: INSTANT.source },
});

export const AuditListQuery = PageQuery.extend({
  actor: Filter.optional().describe('Only this subject (exact)'),
  action: Filter.optional().describe('Only this action (exact), e.g. api_key.created'),
  outcome: z.enum(['success', 'denied', 'failure']).optional(),
  since: Instant.optional().describe('From this instant (inclusive)'),
  until: Instant.optional().describe('Before this instant (exclusive)'),
});
export const UsageQuery = z.strictObject({
  since: Instant.optional().describe('From this instant (inclusive); default 30 days before until'),
  until: Instant.optional().describe('Before this instant (exclusive); default now'),
});

export const StatsQuery = z.strictObject({
  window_hours: queryInt(1, 720).default(24).describe('The window ending now, in hours'),
});
const Count = z.int().min(0);
const Stats = z.object({
  since: Timestamp.describe('Start of the window (inclusive)'),
  until: Timestamp.describe('End of the window (exclusive): now'),
  tasks: z.object({
    by_status: z
      .record(z.string(), Count)
      .describe('Tasks created in the window, by their status now'),
    in_flight: Count.describe('QUEUED, ROUTED or RUNNING now, whenever created'),
    latency_p50_ms: Count.describe('Of the tasks that finished OK in the window; 0 when none did'),
    latency_p95_ms: Count,
  }),
  dead_letters_open: Count,
  prompt_approvals_pending: Count,
  usage: z.object({ cost_usd: z.number().min(0), input_tokens: Count, output_tokens: Count }),
  audit: z.object({ success: Count, denied: Count, failure: Count }),
});

const AuditRecord = z.object({
  id: z.string().describe('The event id; each event is stored once'),
  time: Timestamp,
  actor: z.string(),
  action: z.string(),
  resource_type: z.string(),
  resource_id: z.string(),
  outcome: z.enum(['success', 'denied', 'failure']),
  details: z.record(z.string(), z.unknown()),
  source: z.string().describe('The service that recorded it'),
  correlation_id: z.string().describe('The request id the action belonged to'),
});
const UsageTotal = z.object({
  day: z.iso.date().describe('UTC day'),
  engine: z.string(),
  model: z.string().describe('The model that served (empty for usage recorded before models were)'),
  tasks: z.int().min(0),
  input_tokens: z.int().min(0),
  output_tokens: z.int().min(0),
  cost_usd: z.number().min(0),
});

type Client = ClientOf<typeof OrchestratorAdminService>;
type Outcome = z.infer<typeof AuditRecord>['outcome'];

/**
 * /api/v1/audit and /api/v1/usage: the caller's tenant's durable audit trail (denied attempts
 * included) and its usage by day, engine and model, as the orchestrator stored them from the bus.
 */
export function auditRoutes(admin: Client, requestTimeoutMs: number): Route[] {
  const o = { deadlineMs: requestTimeoutMs };
  return [
    route({
      method: 'get',
      path: '/api/v1/audit',
      operationId: 'listAuditRecords',
      summary: 'Who did what in this tenant, and who was refused; newest first',
      tag: 'operations',
      access: 'audit:read',
      request: { query: AuditListQuery },
      responses: {
        200: {
          description: 'A page of audit records',
          schema: z.object({ data: z.array(AuditRecord), ...PageInfo }),
        },
      },
      async handle({ query }) {
        const { records, page } = await admin.listAuditRecords(
          {
            actor: query.actor ?? '',
            action: query.action ?? '',
            outcome: query.outcome ?? '',
            since: query.since ?? '',
            until: query.until ?? '',
            page: { pageSize: query.limit, pageToken: query.page_token ?? '' },
          },
          o,
        );
        return {
          status: 200,
          body: {
            data: records.map((r) => ({
              id: r.id,
              time: r.time,
              actor: r.actor,
              action: r.action,
              resource_type: r.resourceType,
              resource_id: r.resourceId,
              outcome: r.outcome as Outcome,
              details: r.details ?? {},
              source: r.source,
              correlation_id: r.correlationId,
            })),
            next_page_token: page?.nextPageToken || null,
            total: Number(page?.totalSize ?? 0),
          },
        };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/usage',
      operationId: 'getUsageTotals',
      summary: "This tenant's tasks, tokens and cost by UTC day, engine and model",
      tag: 'budget',
      access: 'budget:read',
      request: { query: UsageQuery },
      responses: {
        200: {
          description: 'Totals by day, then engine and model (days without usage are absent)',
          schema: z.object({ data: z.array(UsageTotal) }),
        },
      },
      async handle({ query }) {
        const { totals } = await admin.getUsageTotals(
          { since: query.since ?? '', until: query.until ?? '' },
          o,
        );
        return {
          status: 200,
          body: {
            data: totals.map((t) => ({
              day: t.day,
              engine: t.engine,
              model: t.model,
              tasks: Number(t.tasks),
              input_tokens: Number(t.inputTokens),
              output_tokens: Number(t.outputTokens),
              cost_usd: t.costUsd,
            })),
          },
        };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/stats',
      operationId: 'getStats',
      summary:
        "This tenant's operational summary: tasks, latency, dead letters, approvals, spend, audit",
      tag: 'operations',
      access: 'audit:read',
      request: { query: StatsQuery },
      responses: { 200: { description: 'The summary of the window', schema: Stats } },
      async handle({ query }) {
        const s = await admin.getStats({ windowHours: query.window_hours }, o);
        return {
          status: 200,
          body: {
            since: s.since,
            until: s.until,
            tasks: {
              by_status: Object.fromEntries(
                s.tasksByStatus.map((t) => [t.status, Number(t.count)]),
              ),
              in_flight: Number(s.tasksInFlight),
              latency_p50_ms: s.latencyP50Ms,
              latency_p95_ms: s.latencyP95Ms,
            },
            dead_letters_open: Number(s.deadLettersOpen),
            prompt_approvals_pending: Number(s.promptApprovalsPending),
            usage: {
              cost_usd: s.costUsd,
              input_tokens: Number(s.inputTokens),
              output_tokens: Number(s.outputTokens),
            },
            audit: {
              success: Number(s.auditSuccess),
              denied: Number(s.auditDenied),
              failure: Number(s.auditFailure),
            },
          },
        };
      },
    }),
  ];
}
