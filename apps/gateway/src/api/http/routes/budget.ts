import * as z from 'zod/v4';
import type { OrchestratorAdminService } from '@aion/contracts';
import type { ClientOf } from '@aion/grpc';
import { route, type Route } from '../routing/route';

const RequestId = z.string().min(1).max(128).describe('Makes the step idempotent');
const ProjectId = z
  .string()
  .regex(/^(|[A-Za-z0-9][A-Za-z0-9._-]{0,62})$/)
  .default('')
  .describe('Project within the tenant; empty for the tenant itself');
const Usd = (max: number) => z.number().min(0).max(max);

export const BudgetReserveRequest = z.strictObject({
  request_id: RequestId,
  project_id: ProjectId,
  amount_usd: Usd(1_000_000),
});
export const BudgetCommitRequest = z.strictObject({
  request_id: RequestId,
  actual_usd: Usd(1_000_000),
});
export const BudgetReleaseRequest = z.strictObject({ request_id: RequestId });
export const BudgetStateQuery = z.strictObject({ project_id: ProjectId });
export const BudgetLimitRequest = z.strictObject({
  project_id: ProjectId,
  limit_usd: Usd(1_000_000_000),
});

const Reservation = z.object({
  request_id: z.string(),
  project_id: z.string(),
  amount_usd: z.number(),
  committed_usd: z.number(),
  status: z.string().describe('RESERVED, COMMITTED, RELEASED or REJECTED'),
});
const BudgetState = z.object({
  project_id: z.string(),
  limit_usd: z.number().nullable().describe('null: no limit'),
  reserved_usd: z.number(),
  committed_usd: z.number(),
  remaining_usd: z.number().nullable(),
});

type Client = ClientOf<typeof OrchestratorAdminService>;
type ReservationMessage = Awaited<ReturnType<Client['reserveBudget']>>['reservation'];
type StateMessage = Awaited<ReturnType<Client['getBudgetState']>>['state'];

const reservationJson = (r: ReservationMessage) => ({
  request_id: r?.requestId ?? '',
  project_id: r?.projectId ?? '',
  amount_usd: r?.amountUsd ?? 0,
  committed_usd: r?.committedUsd ?? 0,
  status: r?.status ?? '',
});
const stateJson = (s: StateMessage) => ({
  project_id: s?.projectId ?? '',
  limit_usd: s?.hasLimit ? s.limitUsd : null,
  reserved_usd: s?.reservedUsd ?? 0,
  committed_usd: s?.committedUsd ?? 0,
  remaining_usd: s?.hasLimit ? s.remainingUsd : null,
});

/** /api/v1/budget: reserve, commit and release spend against per-tenant and project limits. */
export function budgetRoutes(admin: Client, requestTimeoutMs: number): Route[] {
  const o = { deadlineMs: requestTimeoutMs };
  const step = (
    name: 'request' | 'commit' | 'release',
    summary: string,
    body: z.ZodObject,
    call: (body: never) => Promise<{ reservation?: ReservationMessage }>,
    errors: (404 | 409)[],
  ) =>
    route({
      method: 'post',
      path: `/api/v1/budget/${name}`,
      operationId: `${name === 'request' ? 'reserve' : name}Budget`,
      summary,
      tag: 'budget',
      access: 'budget:manage',
      request: { body },
      responses: { 200: { description: 'The reservation', schema: Reservation } },
      errors,
      async handle(input) {
        return {
          status: 200,
          body: reservationJson((await call(input.body as never)).reservation),
        };
      },
    });
  return [
    step(
      'request',
      'Reserve an amount before spending it (refused when it would exceed a limit)',
      BudgetReserveRequest,
      (b: z.output<typeof BudgetReserveRequest>) =>
        admin.reserveBudget(
          { requestId: b.request_id, projectId: b.project_id, amountUsd: b.amount_usd },
          o,
        ),
      [409],
    ),
    step(
      'commit',
      'Commit what was actually spent; the rest of the reservation is released',
      BudgetCommitRequest,
      (b: z.output<typeof BudgetCommitRequest>) =>
        admin.commitBudget({ requestId: b.request_id, actualUsd: b.actual_usd }, o),
      [404, 409],
    ),
    step(
      'release',
      'Release a reservation unspent',
      BudgetReleaseRequest,
      (b: z.output<typeof BudgetReleaseRequest>) =>
        admin.releaseBudget({ requestId: b.request_id }, o),
      [404, 409],
    ),
    route({
      method: 'get',
      path: '/api/v1/budget/state',
      operationId: 'getBudgetState',
      summary: 'Limit, reserved, committed and remaining spend',
      tag: 'budget',
      access: 'budget:read',
      request: { query: BudgetStateQuery },
      responses: { 200: { description: 'Budget state', schema: BudgetState } },
      async handle({ query }) {
        return {
          status: 200,
          body: stateJson((await admin.getBudgetState({ projectId: query.project_id }, o)).state),
        };
      },
    }),
    route({
      method: 'put',
      path: '/api/v1/budget/limits',
      operationId: 'setBudgetLimit',
      summary: 'Set the spend limit of the tenant or a project',
      tag: 'budget',
      access: 'budget:manage',
      request: { body: BudgetLimitRequest },
      responses: { 200: { description: 'Budget state', schema: BudgetState } },
      async handle({ body }) {
        const { state } = await admin.setBudgetLimit(
          { projectId: body.project_id, limitUsd: body.limit_usd },
          o,
        );
        return { status: 200, body: stateJson(state) };
      },
    }),
  ];
}
