import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { AionError, toAionError } from '@aion/errors';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import type { BreakerRegistry } from '@aion/resilience';
import { requireTenant, runWithTenant } from '@aion/tenancy';
import type { Logger } from '@aion/telemetry';
import type { BudgetPort } from './budget';
import { type Engine, type RoutingPolicies } from './engines';
import type { LatencyWindows } from './latency';
import type {
  EngineExecutor,
  StreamEvent,
  TaskRecord,
  TaskRepository,
  TaskRequestDoc,
} from './ports';
import type { ResidencyPolicy } from './residency';
import { estimateCost, route, type Candidate } from './router';
import { isTerminal, type TaskStatus } from './task-state';

export interface TaskServiceDeps {
  repository: TaskRepository;
  budgets: BudgetPort;
  executor: EngineExecutor;
  residency: ResidencyPolicy;
  jurisdictions: JurisdictionRegistry;
  engines: readonly Engine[];
  policies: RoutingPolicies;
  latency: LatencyWindows;
  breakers: BreakerRegistry;
  logger?: Logger | undefined;
  /** Upper bound on a task's execution (default 60 s): past it the task ends TIMEOUT. */
  taskTimeoutMs?: number;
  /** How often Stream looks for events written by other replicas (default 250 ms). */
  streamPollMs?: number;
}

/** Rough token count for budgeting: ~4 characters per token of the JSON-encoded value. */
export function estimateTokens(value: unknown): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? '');
  return Math.max(1, Math.ceil(text.length / 4));
}

function outputTokensFor(request: TaskRequestDoc, inputTokens: number): number {
  const asked = Number(request.params['max_tokens']);
  if (Number.isFinite(asked) && asked > 0) return asked;
  return request.intent === 'summarize' ? Math.ceil(inputTokens / 3) : 512;
}

function hashRequest(request: TaskRequestDoc): string {
  const { task_id: _id, ...rest } = request;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex');
}

/**
 * The main job: accept a task, route it with a stated reason, reserve budget, run it behind the
 * engine's breaker with fallback, stream what it produces, settle budget and record every step.
 */
export class TaskService {
  private readonly notifier = new EventEmitter().setMaxListeners(0);
  private readonly running = new Map<string, AbortController>();

  constructor(private readonly deps: TaskServiceDeps) {}

  /** Idempotent by task id: the same id with the same request returns the existing task. */
  async submit(request: TaskRequestDoc): Promise<{ record: TaskRecord; deduplicated: boolean }> {
    const tenant = requireTenant();
    const id = request.task_id || randomUUID();
    const doc: TaskRequestDoc = { ...request, task_id: id };
    const now = new Date();
    const { record, created } = await this.deps.repository.create({
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
    });
    if (!created) {
      if (record.requestHash !== hashRequest(doc))
        throw new AionError(
          'validation.idempotency_key_reused',
          `task ${id} already exists with a different request`,
        );
      return { record, deduplicated: true };
    }
    const context = { ...tenant };
    // Runs after Submit returns; its outcome is recorded on the task, never thrown at the caller.
    setImmediate(
      () =>
        void runWithTenant(context, () => this.run(record)).catch((err: unknown) =>
          this.deps.logger?.error('task run failed unexpectedly', {
            task_id: id,
            reason: err instanceof Error ? err.message : String(err),
          }),
        ),
    );
    return { record, deduplicated: false };
  }

  async get(id: string): Promise<TaskRecord> {
    const record = await this.deps.repository.get(id);
    if (!record) throw AionError.notFound('task', id);
    return record;
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
        id,
        record.status,
        'CANCELED',
        {
          error: {
            code: 'task.canceled',
            message: reason || 'canceled by the client',
            retryable: false,
          },
        },
        {
          kind: 'error',
          data: { code: 'task.canceled', message: reason || 'canceled by the client' },
        },
      );
      if (canceled) {
        this.running.get(id)?.abort(new AionError('state.conflict', 'task was canceled'));
        this.notify(id);
        if (record.status !== 'QUEUED') await this.deps.budgets.release(id).catch(() => undefined);
        return canceled;
      }
    }
    throw AionError.conflict(`task ${id} changed while it was being canceled; try again`);
  }

  /** Events after `afterSequence`, then live ones until the task ends (or the signal aborts). */
  async *stream(
    id: string,
    afterSequence: number,
    signal: AbortSignal,
  ): AsyncGenerator<StreamEvent> {
    await this.get(id);
    let last = afterSequence;
    for (;;) {
      const events = await this.deps.repository.streamAfter(id, last);
      for (const event of events) {
        last = event.sequence;
        yield event;
        if (event.kind === 'done' || event.kind === 'error') return;
      }
      if (signal.aborted) return;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.notifier.off(id, wake);
          signal.removeEventListener('abort', wake);
          resolve();
        };
        const timer = setTimeout(wake, this.deps.streamPollMs ?? 250);
        this.notifier.on(id, wake);
        signal.addEventListener('abort', wake);
      });
    }
  }

  private notify(id: string): void {
    this.notifier.emit(id);
  }

  private async run(task: TaskRecord): Promise<void> {
    const { repository, budgets } = this.deps;
    const request = task.request;
    const inputTokens = estimateTokens(request.params);
    const estimate = { inputTokens, outputTokens: outputTokensFor(request, inputTokens) };
    let decision;
    try {
      const residency = await this.deps.residency.decide(task.tenantId, request.data_context);
      const remainingBudgetUsd = await budgets.remaining(request.project_id);
      decision = route(
        this.deps.engines,
        {
          intent: request.intent,
          privacy: request.sla.privacy,
          budgetUsd: request.sla.budget_usd,
          remainingBudgetUsd,
          p95Ms: request.sla.p95_ms,
          preferredEngine: request.preferred_engine,
          model: typeof request.params['model'] === 'string' ? request.params['model'] : undefined,
          estimate,
          data: request.data_context,
          residency,
        },
        {
          p95: (e) => this.deps.latency.p95(e),
          breakerOpen: (e) => this.deps.breakers.isOpen(e),
          policies: this.deps.policies,
        },
        this.deps.jurisdictions,
      );
    } catch (err) {
      await this.fail(task, 'QUEUED', toAionError(err));
      return;
    }
    const first = decision.ranked[0]!;
    const routed = await repository.transition(task.id, 'QUEUED', 'ROUTED', {
      engine: { route: first.engine.name, chosenBy: decision.chosenBy, reason: decision.reason },
    });
    if (!routed) return; // canceled meanwhile
    this.notify(task.id);

    const controller = new AbortController();
    this.running.set(task.id, controller);
    const timeout = setTimeout(
      () => controller.abort(new AionError('service.timeout', 'task timed out')),
      this.deps.taskTimeoutMs ?? 60_000,
    );
    try {
      await this.execute(
        routed,
        decision.ranked,
        decision.chosenBy,
        decision.reason,
        estimate,
        controller.signal,
      );
    } finally {
      clearTimeout(timeout);
      this.running.delete(task.id);
      this.notify(task.id);
    }
  }

  private async execute(
    task: TaskRecord,
    ranked: Candidate[],
    chosenBy: 'ai-router' | 'policy-override',
    reason: string,
    estimate: { inputTokens: number; outputTokens: number },
    signal: AbortSignal,
  ): Promise<void> {
    const { repository, budgets } = this.deps;
    let status: TaskStatus = 'ROUTED';
    let why = reason;
    const failures: string[] = [];
    for (const [index, candidate] of ranked.entries()) {
      const engine = candidate.engine;
      try {
        await budgets.reserve(task.id, task.request.project_id, estimateCost(engine, estimate));
      } catch (err) {
        failures.push(`${engine.name}: ${toAionError(err).message}`);
        if (index === ranked.length - 1)
          return void (await this.fail(task, status, toAionError(err)));
        continue;
      }
      const engineInfo = { route: engine.name, chosenBy, reason: why };
      const moved = await repository.transition(task.id, status, 'RUNNING', { engine: engineInfo });
      if (!moved && status !== 'RUNNING')
        return void (await budgets.release(task.id).catch(() => undefined));
      status = 'RUNNING';
      this.notify(task.id);
      const started = performance.now();
      // Stream events are appended one after another, and all of them before the final event.
      let appended: Promise<unknown> = Promise.resolve();
      const append = (kind: 'token' | 'partial', data: unknown) => {
        appended = appended
          .then(() => repository.appendStream(task.id, kind, data))
          .then(
            () => this.notify(task.id),
            () => undefined,
          );
      };
      try {
        const output = await this.deps.breakers.execute(
          engine.name,
          (breakerSignal) =>
            this.deps.executor.execute(engine, {
              intent: task.intent,
              params: task.request.params,
              signal: AbortSignal.any([signal, breakerSignal]),
              onToken: (token) => append('token', { token }),
              onPartial: (partial) => append('partial', { partial }),
            }),
          signal,
        );
        const latencyMs = Math.round(performance.now() - started);
        await appended;
        this.deps.latency.record(engine.name, latencyMs);
        const costUsd = estimateCost(engine, {
          inputTokens: output.inputTokens,
          outputTokens: output.outputTokens,
        });
        const usage = {
          latencyMs,
          inputTokens: output.inputTokens,
          outputTokens: output.outputTokens,
          costUsd,
        };
        const done = await repository.transition(
          task.id,
          'RUNNING',
          'OK',
          { engine: engineInfo, result: output.output, usage },
          { kind: 'done', data: { status: 'OK' } },
        );
        if (done) await budgets.commit(task.id, costUsd);
        else await budgets.release(task.id).catch(() => undefined);
        return;
      } catch (err) {
        await appended;
        if (signal.aborted) {
          const cause =
            signal.reason instanceof AionError ? signal.reason : AionError.internal(err);
          if (cause.code === 'service.timeout')
            await this.finish(
              task,
              'TIMEOUT',
              {
                code: 'task.timeout',
                message: `task did not finish within ${this.deps.taskTimeoutMs ?? 60_000} ms`,
                retryable: true,
              },
              index + 1,
            );
          await budgets.release(task.id).catch(() => undefined);
          return;
        }
        const detail = toAionError(err).message;
        failures.push(`${engine.name}: ${detail}`);
        this.deps.logger?.warn('engine failed; falling back', {
          task_id: task.id,
          engine: engine.name,
          reason: detail,
        });
        const next = ranked[index + 1];
        if (!next) {
          await budgets.release(task.id).catch(() => undefined);
          await this.finish(
            task,
            'ERROR',
            {
              code: 'engine.failed',
              message: `every allowed engine failed: ${failures.join('; ')}`,
              retryable: true,
            },
            failures.length,
          );
          return;
        }
        why = `${reason}; fell back from ${engine.name} (${detail}) to ${next.engine.name}`;
      }
    }
  }

  /** Ends a task whose attempts ran out; it goes to the dead-letter queue with its attempt count. */
  private async finish(
    task: TaskRecord,
    to: 'ERROR' | 'TIMEOUT',
    error: { code: string; message: string; retryable: boolean },
    attempts: number,
  ): Promise<void> {
    await this.deps.repository.transition(
      task.id,
      'RUNNING',
      to,
      { error, deadLetter: { attempts } },
      { kind: 'error', data: error },
    );
    this.notify(task.id);
  }

  private async fail(task: TaskRecord, from: TaskStatus, error: AionError): Promise<void> {
    const doc = {
      code: error.code,
      message: error.message,
      retryable: error.code === 'service.unavailable' || error.code === 'budget.exceeded',
    };
    await this.deps.repository.transition(
      task.id,
      from,
      'ERROR',
      { error: doc },
      { kind: 'error', data: { ...doc, ...(error.details ? { details: error.details } : {}) } },
    );
    this.notify(task.id);
  }

  /** Tasks this replica is executing (graceful shutdown waits for them). */
  get inFlight(): number {
    return this.running.size;
  }
}
