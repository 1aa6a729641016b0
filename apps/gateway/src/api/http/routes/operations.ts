import * as z from 'zod/v4';
import type { OrchestratorAdminService } from '@aion/contracts';
import type { ClientOf } from '@aion/grpc';
import { route, type Route } from '../routing/route';
import { NoteBody, queryBool, queryInt, Uuid } from '../../wire-schemas';

export const DeadLetterListQuery = z.strictObject({
  resolved: queryBool().optional().describe('Only open (false) or closed (true)'),
  source: z.enum(['task', 'message']).optional(),
  limit: queryInt(1, 200).default(50),
  offset: queryInt(0, 1_000_000).default(0),
});
const DeadLetterIdPath = z.strictObject({ id: Uuid });
const DeadLetterAction = NoteBody('Why it was resolved or replayed');

const DeadLetter = z.object({
  id: Uuid,
  source: z.string(),
  ref: z.string(),
  subject: z.string(),
  error_code: z.string(),
  error_message: z.string(),
  retry_count: z.int(),
  payload: z.unknown(),
  failed_at: z.string(),
  resolved: z.boolean(),
  resolved_at: z.string().nullable(),
  resolved_by: z.string().nullable(),
  resolution: z.string().nullable(),
  note: z.string().nullable(),
  replay_ref: z.string().nullable(),
});
const Breaker = z.object({
  name: z.string(),
  state: z.string().describe('closed, open or half_open (shared by every orchestrator replica)'),
  successes: z.int(),
  failures: z.int(),
  rejections: z.int(),
  opened: z.int(),
  last_failure: z
    .string()
    .nullable()
    .describe('The last failure text; null unless the caller is an admin of the platform tenant'),
  last_state_change: z.string(),
});

type Client = ClientOf<typeof OrchestratorAdminService>;
type Entry = Awaited<ReturnType<Client['getDeadLetter']>>['entry'];

const entryJson = (e: Entry) => ({
  id: e?.id ?? '',
  source: e?.source ?? '',
  ref: e?.ref ?? '',
  subject: e?.subject ?? '',
  error_code: e?.errorCode ?? '',
  error_message: e?.errorMessage ?? '',
  retry_count: e?.retryCount ?? 0,
  payload: e?.payload ?? {},
  failed_at: e?.failedAt ?? '',
  resolved: Boolean(e?.resolvedAt),
  resolved_at: e?.resolvedAt || null,
  resolved_by: e?.resolvedBy || null,
  resolution: e?.resolution || null,
  note: e?.note || null,
  replay_ref: e?.replayRef || null,
});

/** /api/v1/dlq and /api/v1/circuit-breakers: what operators look at when work fails. */
export function operationsRoutes(admin: Client, requestTimeoutMs: number): Route[] {
  const o = { deadlineMs: requestTimeoutMs };
  const action = (verb: 'resolve' | 'replay', summary: string) =>
    route({
      method: 'post',
      path: `/api/v1/dlq/{id}/${verb}`,
      operationId: `${verb}DeadLetter`,
      summary,
      tag: 'operations',
      access: 'operations:manage',
      request: { path: DeadLetterIdPath, body: DeadLetterAction, bodyOptional: true },
      responses: { 200: { description: 'The entry', schema: DeadLetter } },
      errors: [404, 409],
      async handle({ path, body }) {
        const request = { id: path.id, note: body.note };
        const { entry } =
          verb === 'resolve'
            ? await admin.resolveDeadLetter(request, o)
            : await admin.replayDeadLetter(request, o);
        return { status: 200, body: entryJson(entry) };
      },
    });
  return [
    route({
      method: 'get',
      path: '/api/v1/dlq',
      operationId: 'listDeadLetters',
      summary: 'Tasks and messages that exhausted their retries',
      tag: 'operations',
      access: 'dlq:read',
      request: { query: DeadLetterListQuery },
      responses: {
        200: {
          description: 'A page of entries',
          schema: z.object({
            data: z.array(DeadLetter),
            total: z.int(),
            limit: z.int(),
            offset: z.int(),
          }),
        },
      },
      links: {
        GetFirst: { operationId: 'getDeadLetter', parameters: { id: '$response.body#/data/0/id' } },
        ResolveFirst: {
          operationId: 'resolveDeadLetter',
          parameters: { id: '$response.body#/data/0/id' },
        },
        ReplayFirst: {
          operationId: 'replayDeadLetter',
          parameters: { id: '$response.body#/data/0/id' },
        },
      },
      async handle({ query }) {
        const { entries, total } = await admin.listDeadLetters(
          {
            ...(query.resolved !== undefined ? { resolved: query.resolved } : {}),
            source: query.source ?? '',
            limit: query.limit,
            offset: query.offset,
          },
          o,
        );
        return {
          status: 200,
          body: { data: entries.map(entryJson), total, limit: query.limit, offset: query.offset },
        };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/dlq/{id}',
      operationId: 'getDeadLetter',
      summary: 'One dead-letter entry',
      tag: 'operations',
      access: 'dlq:read',
      request: { path: DeadLetterIdPath },
      responses: { 200: { description: 'The entry', schema: DeadLetter } },
      errors: [404],
      async handle({ path }) {
        return {
          status: 200,
          body: entryJson((await admin.getDeadLetter({ id: path.id }, o)).entry),
        };
      },
    }),
    action('resolve', 'Mark an entry resolved'),
    action('replay', 'Run the failed work again (a new task) and resolve the entry'),
    route({
      method: 'get',
      path: '/api/v1/circuit-breakers',
      operationId: 'listCircuitBreakers',
      summary: 'The circuit breaker of every engine',
      tag: 'operations',
      access: 'platform:read',
      request: {},
      responses: { 200: { description: 'Breakers', schema: z.object({ data: z.array(Breaker) }) } },
      async handle() {
        const { breakers } = await admin.listCircuitBreakers({}, o);
        return {
          status: 200,
          body: {
            data: breakers.map((b) => ({
              name: b.name,
              state: b.state,
              successes: Number(b.successes),
              failures: Number(b.failures),
              rejections: Number(b.rejections),
              opened: Number(b.opened),
              last_failure: b.lastFailure || null,
              last_state_change: b.lastStateChange,
            })),
          },
        };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/circuit-breakers/reset_all',
      operationId: 'resetCircuitBreakers',
      summary: 'Close every breaker, on every replica (admins of the platform tenant only)',
      tag: 'operations',
      access: 'operations:manage',
      request: {},
      responses: {
        200: {
          description: 'How many were reset',
          schema: z.object({ reset: z.array(z.string()).describe('The breakers that were reset') }),
        },
      },
      async handle() {
        return { status: 200, body: { reset: (await admin.resetCircuitBreakers({}, o)).reset } };
      },
    }),
  ];
}
