import { createHash, randomUUID } from 'node:crypto';
import { AionError } from '@aion/errors';
import { requireTenant, runWithTenant } from '@aion/tenancy';
import { taskRoute } from './engines';
import type { StreamEvent, TaskRecord, TaskRequestDoc } from './ports';
import { sovereigntyFacts } from './receipts';
import { estimateCost } from './router';
import { isTerminal, type TaskStatus } from './task-state';
import { TaskExecution, type ExecutionDeps } from './task-execution';
import { isFree, planTask } from './task-plan';
import { recoverStale } from './task-recovery';
import { TaskWatch } from './task-watch';

export interface TaskServiceDeps extends ExecutionDeps {
  /** How often Stream looks for events written by other replicas (default 250 ms). */
  streamPollMs?: number;
}

function hashRequest(request: TaskRequestDoc): string {
  const { task_id: _id, ...rest } = request;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex');
}

/**
 * The main job: accept a task, route it with a stated reason, reserve budget, run it behind the
 * engine's breaker with fallback, stream what it produces, settle budget and record every step.
 * Intake and cancellation are here; execution (task-execution.ts), what clients watch
 * (task-watch.ts) and recovery of other replicas' tasks (task-recovery.ts) each have their own.
 */
export class TaskService {
  private readonly execution: TaskExecution;
  private readonly watch: TaskWatch;

  constructor(private readonly deps: TaskServiceDeps) {
    this.execution = new TaskExecution(deps);
    this.watch = new TaskWatch(deps);
  }

  /** Idempotent by task id: the same id with the same request returns the existing task. */
  async submit(request: TaskRequestDoc): Promise<{ record: TaskRecord; deduplicated: boolean }> {
    const tenant = requireTenant();
    const id = request.task_id || randomUUID();
    const doc: TaskRequestDoc = { ...request, task_id: id };
    const now = new Date();
    // With the residency decision at hand the task is routed now and stored already running on
    // its engine: one transaction instead of two before the engine is called.
    const residency = this.deps.residency.cached(tenant.tenantId, doc.data_context);
    const plan = residency && (await planTask(this.deps, doc, residency).catch(() => undefined));
    const first = plan?.ranked[0];
    const { record, created } = await this.deps.repository.create(
      {
        tenantId: tenant.tenantId,
        id,
        projectId: doc.project_id,
        subject: tenant.subject,
        intent: doc.intent,
        status: 'QUEUED',
        request: doc,
        requestHash: hashRequest(doc),
        createdAt: now,
        updatedAt: now,
      },
      first && {
        engine: {
          route: taskRoute(first.engine.tier, doc.sla.privacy, false),
          name: first.engine.name,
          chosenBy: plan.chosenBy,
          reason: plan.reason,
        },
        sovereignty: sovereigntyFacts(first, plan.rule, doc),
        ...(isFree(first.engine) ? {} : { reserveUsd: estimateCost(first.engine, plan.estimate) }),
      },
    );
    if (!created) {
      if (record.requestHash !== hashRequest(doc))
        throw AionError.conflict(`task ${id} already exists with a different request`);
      return { record, deduplicated: true };
    }
    const context = { ...tenant };
    this.watch.working(tenant.tenantId, id);
    // Runs after Submit returns; its outcome is recorded on the task, never thrown at the caller.
    setImmediate(
      () =>
        void runWithTenant(context, () =>
          plan && record.status === 'RUNNING'
            ? this.execution.runPlanned(record, plan, true)
            : this.execution.run(record),
        )
          .catch((err: unknown) =>
            this.deps.logger?.error('task run failed unexpectedly', {
              task_id: id,
              reason: err instanceof Error ? err.message : String(err),
            }),
          )
          .finally(() => this.watch.done(tenant.tenantId, id)),
    );
    return { record, deduplicated: false };
  }

  get(id: string): Promise<TaskRecord> {
    return this.watch.get(id);
  }

  /** The caller's own tasks; with `allOfTenant` (operators, admins) every task of the tenant. */
  list(options: {
    limit: number;
    offset: number;
    status?: TaskStatus | undefined;
    allOfTenant: boolean;
  }) {
    const { allOfTenant, ...rest } = options;
    return this.deps.repository.list({
      ...rest,
      ...(allOfTenant ? {} : { subject: requireTenant().subject }),
    });
  }

  async cancel(id: string, reason: string): Promise<TaskRecord> {
    for (let attempt = 0; attempt < 4; attempt++) {
      const record = await this.get(id);
      if (isTerminal(record.status))
        throw AionError.conflict(`task ${id} already finished with status ${record.status}`);
      const canceled = await this.deps.repository.transition(
        record,
        record.status,
        'CANCELED',
        {
          error: {
            code: 'task.canceled',
            message: reason || 'canceled by the client',
            retryable: false,
          },
          // What a started task holds of the budget goes back with the cancellation.
          ...(record.status !== 'QUEUED' ? { budget: { kind: 'release' as const } } : {}),
        },
        {
          kind: 'error',
          data: { code: 'task.canceled', message: reason || 'canceled by the client' },
        },
      );
      if (canceled) {
        this.execution.abort(
          canceled.tenantId,
          id,
          new AionError('state.conflict', 'task was canceled'),
        );
        return canceled;
      }
    }
    throw AionError.conflict(`task ${id} changed while it was being canceled; try again`);
  }

  /** The task once it ended, or as it is when `timeoutMs` passed or the signal aborted. */
  awaitEnd(submitted: TaskRecord, timeoutMs: number, signal: AbortSignal): Promise<TaskRecord> {
    return this.watch.awaitEnd(submitted, timeoutMs, signal);
  }

  /** Events after `afterSequence`, then live ones until the task ends (or the signal aborts). */
  stream(id: string, afterSequence: number, signal: AbortSignal): AsyncGenerator<StreamEvent> {
    return this.watch.stream(id, afterSequence, signal);
  }

  /** Recovers tasks whose replica died (see task-recovery.ts). */
  recoverStale(options: { queuedForMs: number; limit?: number }): Promise<number> {
    return recoverStale(this.deps, this.execution, options);
  }

  /** Tasks this replica is executing (graceful shutdown waits for them). */
  get inFlight(): number {
    return this.execution.inFlight;
  }
}
