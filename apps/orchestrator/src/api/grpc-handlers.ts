import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import type { AuditRecorder } from '@aion/events';
import { ValueSchema } from '@bufbuild/protobuf/wkt';
import {
  TaskOrchestrator,
  OrchestratorAdminService,
  StreamEventKind,
  TaskStatus,
} from '@aion/contracts';
import { can, type Principal } from '@aion/auth';
import { AionError } from '@aion/errors';
import { nextPageToken, pageWindow, type GrpcServer } from '@aion/grpc';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import type { BreakerRegistry } from '@aion/resilience';
import type { BudgetPort, BudgetState, Reservation } from '../core/budget';
import type { Engine } from '../core/engines';
import type { StreamKind } from '../core/ports';
import type { ReceiptService } from '../core/receipts';
import type { AuditLogService } from '../core/audit-log';
import type { StatsService } from '../core/stats';
import type { DeadLetterService } from '../core/dead-letters';
import type { TaskService } from '../core/task-service';
import { auditHandlers } from './audit-handlers';
import { breakerHandlers } from './breaker-handlers';
import { deadLetterHandlers } from './dead-letter-handlers';
import { STATUS_BY_PROTO } from '../proto';
import { toRequestDoc, toTaskView } from './task-mapping';

const KIND: Record<StreamKind, StreamEventKind> = {
  token: StreamEventKind.TOKEN,
  partial: StreamEventKind.PARTIAL,
  done: StreamEventKind.DONE,
  error: StreamEventKind.ERROR,
};

function required(value: string, field: string): string {
  if (!value)
    throw AionError.validation(`${field} is required`, [{ field, message: 'is required' }]);
  return value;
}

const reservation = (r: Reservation) => ({
  requestId: r.requestId,
  projectId: r.projectId,
  amountUsd: r.amountUsd,
  committedUsd: r.committedUsd ?? 0,
  status: r.status,
});
const budgetState = (s: BudgetState) => ({
  projectId: s.projectId,
  hasLimit: s.limitUsd !== undefined,
  limitUsd: s.limitUsd ?? 0,
  reservedUsd: s.reservedUsd,
  committedUsd: s.committedUsd,
  remainingUsd: s.remainingUsd ?? 0,
});

/** aion.v1.TaskOrchestrator and aion.v1.OrchestratorAdminService: parse, check, call, map back. */
export function registerOrchestratorApi(
  server: GrpcServer,
  deps: {
    engines: readonly Engine[];
    tasks: TaskService;
    budgets: BudgetPort;
    breakers: BreakerRegistry;
    jurisdictions: JurisdictionRegistry;
    audit: AuditRecorder;
    deadLetters: DeadLetterService;
    auditLog: AuditLogService;
    stats: StatsService;
    receipts: ReceiptService;
    /** The tenant whose admins manage what every tenant shares (the breakers). */
    platformTenant: string;
  },
): void {
  const { tasks, budgets, breakers, jurisdictions, audit, engines } = deps;
  const dlq = deadLetterHandlers(deps.deadLetters);
  const trail = auditHandlers(deps.auditLog, deps.stats);
  const breakerApi = breakerHandlers(breakers, audit, deps.platformTenant);
  /**
   * A task is its submitter's: reading, streaming, its receipt and cancelling it follow the rule
   * the list follows. Operators and admins (tasks:manage) reach every task of their tenant;
   * anyone else gets not-found for another's task, as if it did not exist.
   */
  const ownTask = async (id: string, principal: Principal | undefined) => {
    const record = await tasks.get(id);
    if (!can(principal?.roles ?? [], 'tasks:manage') && record.subject !== principal?.subject)
      throw AionError.notFound('task', id);
    return record;
  };
  server.add(
    TaskOrchestrator,
    {
      submit: async (req, ctx) => {
        if (req.waitMs > 600_000)
          throw AionError.validation('wait_ms must be at most 600000', [
            { field: 'wait_ms', message: 'at most 600000 (10 minutes)' },
          ]);
        const { record, deduplicated } = await tasks.submit(toRequestDoc(req.task, jurisdictions));
        const result =
          req.waitMs > 0 ? await tasks.awaitEnd(record, req.waitMs, ctx.signal) : record;
        return { result: toTaskView(result), deduplicated };
      },
      getReceipt: async (req, ctx) => {
        const id = required(req.taskId, 'task_id');
        await ownTask(id, ctx.principal);
        const { json, jws } = await deps.receipts.receipt(id);
        return { receiptJson: json, jws };
      },
      statusById: async (req, ctx) => ({
        result: toTaskView(await ownTask(required(req.taskId, 'task_id'), ctx.principal)),
      }),
      cancel: async (req, ctx) => {
        const id = required(req.taskId, 'task_id');
        await ownTask(id, ctx.principal);
        return { result: toTaskView(await tasks.cancel(id, req.reason)) };
      },
      list: async (req, ctx) => {
        const { limit, offset } = pageWindow(req.page);
        if (req.status !== TaskStatus.UNSPECIFIED && !STATUS_BY_PROTO[req.status])
          throw AionError.validation('status is not a known task status');
        const { items, total } = await tasks.list({
          limit,
          offset,
          status: req.status === TaskStatus.UNSPECIFIED ? undefined : STATUS_BY_PROTO[req.status],
          // Developers see their own tasks; operators and admins see the whole tenant's.
          allOfTenant: can(ctx.principal?.roles ?? [], 'tasks:manage'),
        });
        return {
          tasks: items.map(toTaskView),
          page: {
            nextPageToken: nextPageToken(offset, items.length, total),
            totalSize: BigInt(total),
          },
        };
      },
      stream: async function* (req, ctx) {
        const id = required(req.taskId, 'task_id');
        await ownTask(id, ctx.principal);
        for await (const event of tasks.stream(id, Number(req.afterSequence), ctx.signal)) {
          const base = { sequence: BigInt(event.sequence), kind: KIND[event.kind] };
          if (event.kind === 'token')
            yield { ...base, token: String((event.data as { token?: string }).token ?? '') };
          else if (event.kind === 'partial')
            yield {
              ...base,
              data: fromJson(
                ValueSchema,
                ((event.data as { partial?: JsonValue }).partial ?? null) as JsonValue,
              ),
            };
          else
            yield {
              ...base,
              data: fromJson(ValueSchema, event.data as JsonValue),
              result: toTaskView(await tasks.get(id)),
            };
        }
      },
    },
    {
      submit: 'tasks:submit',
      statusById: 'tasks:read',
      getReceipt: 'tasks:read',
      cancel: 'tasks:cancel',
      list: 'tasks:read',
      stream: 'tasks:read',
    },
  );
  server.add(
    OrchestratorAdminService,
    {
      reserveBudget: async (req) => ({
        reservation: reservation(
          await budgets.reserve(
            required(req.requestId, 'request_id'),
            req.projectId,
            req.amountUsd,
          ),
        ),
      }),
      commitBudget: async (req) => ({
        reservation: reservation(
          await budgets.commit(required(req.requestId, 'request_id'), req.actualUsd),
        ),
      }),
      releaseBudget: async (req) => ({
        reservation: reservation(await budgets.release(required(req.requestId, 'request_id'))),
      }),
      getBudgetState: async (req) => ({ state: budgetState(await budgets.state(req.projectId)) }),
      setBudgetLimit: async (req) => {
        const state = await audit.recordChange(
          () => budgets.setLimit(req.projectId, req.limitUsd),
          () => ({
            action: 'budget.set_limit',
            resourceId: req.projectId || 'tenant',
            details: { limit_usd: req.limitUsd },
          }),
        );
        return { state: budgetState(state) };
      },
      listEngines: async (req) => ({
        engines: engines
          .filter((e) => !req.intent || e.intents.includes(req.intent))
          .map((e) => ({
            name: e.name,
            tier: e.tier,
            kind: e.kind,
            intents: e.intents,
            models: e.kind === 'openai-compatible' ? e.models : [],
            jurisdiction: e.jurisdiction,
            region: e.region,
          })),
      }),
      ...breakerApi.handlers,
      ...dlq.handlers,
      ...trail.handlers,
    },
    {
      reserveBudget: 'budget:manage',
      commitBudget: 'budget:manage',
      releaseBudget: 'budget:manage',
      getBudgetState: 'budget:read',
      setBudgetLimit: 'budget:manage',
      listEngines: 'tasks:read',
      ...breakerApi.permissions,
      ...dlq.permissions,
      ...trail.permissions,
    },
  );
}
