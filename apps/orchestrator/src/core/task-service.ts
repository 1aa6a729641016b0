import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { AionError, isDependencyUnavailable, toAionError } from '@aion/errors';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import { retryPolicy, type BreakerRegistry } from '@aion/resilience';
import { requireTenant, runWithTenant } from '@aion/tenancy';
import type { Logger } from '@aion/telemetry';
import type { BudgetPort } from './budget';
import { taskRoute, type Engine, type RoutingPolicies } from './engines';
import type { LatencyWindows } from './latency';
import type {
  EngineExecutor,
  StreamEvent,
  TaskRecord,
  TaskRepository,
  TaskRequestDoc,
  TransitionPatch,
} from './ports';
import { refusedBy, sovereigntyFacts } from './receipts';
import type { ResidencyDecision, ResidencyPolicy } from './residency';
import { estimateCost, route, type RouteDecision } from './router';
import { contiguous, StreamBatcher } from './stream-batcher';
import { isTerminal, type TaskStatus } from './task-state';
import { estimateTokens, outputTokensFor } from './tokens';

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

/** A routed task: the router's decision, the estimate it priced, and the residency rule. */
/**
 * How a task's outcome is written when the database is away: the outcome is in hand (the model
 * has answered, perhaps at a price), so its write is retried through an outage of up to about
 * half a minute instead of being thrown away for the reaper to call the task lost.
 */
const outcomeWrites = retryPolicy({
  maxAttempts: 12,
  baseDelayMs: 250,
  maxDelayMs: 4_000,
  retryable: isDependencyUnavailable,
});

type Plan = Pick<RouteDecision, 'ranked' | 'chosenBy' | 'reason'> & {
  estimate: { inputTokens: number; outputTokens: number };
  rule: string;
};

const isFree = (engine: Engine) =>
  engine.price_per_1k_tokens.input === 0 && engine.price_per_1k_tokens.output === 0;

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

  /** The runs of this replica by `tenant/id`: task ids are only unique within a tenant. */
  private readonly running = new Map<string, AbortController>();

  /** Tasks this replica accepted and is still working on (`tenant/id`); nobody polls for them. */
  private readonly local = new Set<string>();

  /** Finished tasks never change again: recently finished ones are answered from memory. */
  private readonly finished = new Map<string, TaskRecord>();

  constructor(private readonly deps: TaskServiceDeps) {
    deps.repository.onAppended((tenantId, id, event, record) => {
      if (record && isTerminal(record.status)) this.remember(record);
      this.notifier.emit(`${tenantId}/${id}`, event);
    });
  }

  private remember(record: TaskRecord): void {
    this.finished.set(`${record.tenantId}/${record.id}`, record);
    if (this.finished.size > 10_000) this.finished.delete(this.finished.keys().next().value!);
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
    const plan = residency && (await this.plan(doc, residency).catch(() => undefined));
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
    const key = `${tenant.tenantId}/${id}`;
    this.local.add(key);
    // Runs after Submit returns; its outcome is recorded on the task, never thrown at the caller.
    setImmediate(
      () =>
        void runWithTenant(context, () =>
          plan && record.status === 'RUNNING'
            ? this.runPlanned(record, plan, true)
            : this.run(record),
        )
          .catch((err: unknown) =>
            this.deps.logger?.error('task run failed unexpectedly', {
              task_id: id,
              reason: err instanceof Error ? err.message : String(err),
            }),
          )
          .finally(() => {
            this.local.delete(key);
            // Waiters look once more, whatever ended the run.
            this.notifier.emit(key);
          }),
    );
    return { record, deduplicated: false };
  }

  async get(id: string): Promise<TaskRecord> {
    const cached = this.finished.get(`${requireTenant().tenantId}/${id}`);
    if (cached) return cached;
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
          // What a started task holds of the budget goes back with the cancellation.
          ...(record.status !== 'QUEUED' ? { budget: { kind: 'release' as const } } : {}),
        },
        {
          kind: 'error',
          data: { code: 'task.canceled', message: reason || 'canceled by the client' },
        },
      );
      if (canceled) {
        this.running
          .get(`${canceled.tenantId}/${id}`)
          ?.abort(new AionError('state.conflict', 'task was canceled'));
        return canceled;
      }
    }
    throw AionError.conflict(`task ${id} changed while it was being canceled; try again`);
  }

  /**
   * The task once it ended, or as it is when `timeoutMs` passed or the signal aborted. A task
   * running here is seen ending through the notifier without reading the database (its run
   * announces its end whatever happened); one running on another replica is looked up every poll
   * interval.
   */
  async awaitEnd(
    submitted: TaskRecord,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<TaskRecord> {
    const id = submitted.id;
    const key = `${requireTenant().tenantId}/${id}`;
    const deadline = Date.now() + timeoutMs;
    let record = this.finished.get(key) ?? submitted;
    while (!isTerminal(record.status) && !signal.aborted && Date.now() < deadline) {
      const ended = await new Promise<boolean>((resolve) => {
        const finish = (value: boolean) => {
          clearTimeout(timer);
          this.notifier.off(key, onEvent);
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        };
        const onEvent = (event?: StreamEvent) => {
          if (!event || event.kind === 'done' || event.kind === 'error') finish(true);
        };
        const onAbort = () => finish(false);
        const left = Math.max(0, deadline - Date.now());
        const timer = setTimeout(
          () => finish(false),
          this.local.has(key) ? left : Math.min(this.deps.streamPollMs ?? 250, left),
        );
        this.notifier.on(key, onEvent);
        signal.addEventListener('abort', onAbort);
      });
      record = (ended && this.finished.get(key)) || (await this.get(id));
    }
    return record;
  }

  /**
   * Events after `afterSequence`, then live ones until the task ends (or the signal aborts). A
   * finished task's stream ends after its last event, even when the caller resumes past it.
   * Events this replica wrote arrive through the notifier and are yielded without reading them
   * back; a gap (events written by another replica) or a quiet spell is filled from the database.
   */
  async *stream(
    id: string,
    afterSequence: number,
    signal: AbortSignal,
  ): AsyncGenerator<StreamEvent> {
    const channel = `${requireTenant().tenantId}/${id}`;
    const arrived: StreamEvent[] = [];
    let wake: (() => void) | undefined;
    const listener = (event?: StreamEvent) => {
      if (event) arrived.push(event);
      wake?.();
    };
    this.notifier.on(channel, listener);
    try {
      let finished = isTerminal((await this.get(id)).status);
      let last = afterSequence;
      let events = await this.deps.repository.streamAfter(id, last);
      for (;;) {
        for (const event of events) {
          if (event.sequence <= last) continue;
          last = event.sequence;
          yield event;
          if (event.kind === 'done' || event.kind === 'error') return;
        }
        // Read after the task had ended: nothing more can come.
        if (signal.aborted || finished) return;
        // Events announced here continue the stream without a read; a gap (another replica
        // wrote in between) or a quiet poll interval is filled from the database.
        let next = contiguous(arrived, last);
        if (next.length === 0 && arrived.length === 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(done, this.deps.streamPollMs ?? 250);
            function done() {
              clearTimeout(timer);
              signal.removeEventListener('abort', done);
              wake = undefined;
              resolve();
            }
            wake = done;
            signal.addEventListener('abort', done);
          });
          next = contiguous(arrived, last);
          // A quiet spell: the task may have ended (another replica, or with no final event).
          if (next.length === 0) finished = isTerminal((await this.get(id)).status);
        }
        events = next.length ? next : await this.deps.repository.streamAfter(id, last);
      }
    } finally {
      this.notifier.off(channel, listener);
    }
  }

  /** Routes a task: every engine that may serve it, best first, and why. */
  private async plan(request: TaskRequestDoc, residency: ResidencyDecision): Promise<Plan> {
    const inputTokens = estimateTokens(request.params);
    const estimate = { inputTokens, outputTokens: outputTokensFor(request, inputTokens) };
    // Free engines cannot be excluded by budget: ask for the remaining budget only when an
    // engine that costs money could serve the task.
    const remainingBudgetUsd = this.deps.engines.some(
      (e) => e.intents.includes(request.intent) && !isFree(e),
    )
      ? await this.deps.budgets.remaining(request.project_id)
      : undefined;
    const decision = route(
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
    const { ranked, chosenBy, reason } = decision;
    return { ranked, chosenBy, reason, estimate, rule: residency.rule };
  }

  private async run(task: TaskRecord): Promise<void> {
    const request = task.request;
    let plan: Plan;
    let residency: ResidencyDecision | undefined;
    try {
      residency = await this.deps.residency.decide(task.tenantId, request.data_context);
      plan = await this.plan(request, residency);
    } catch (err) {
      const error = toAionError(err);
      await this.fail(
        task,
        'QUEUED',
        error,
        error.code === 'sovereign.residency_violation' && residency
          ? {
              attempted: [
                ...new Set(
                  this.deps.engines
                    .filter((e) => e.intents.includes(request.intent))
                    .map((e) => e.jurisdiction),
                ),
              ],
              rule: residency.rule,
              reason: error.message,
            }
          : undefined,
      );
      return;
    }
    await this.runPlanned(task, plan, false);
  }

  /** Executes a routed task; `started`: it is already RUNNING on the plan's first engine. */
  private async runPlanned(task: TaskRecord, plan: Plan, started: boolean): Promise<void> {
    const controller = new AbortController();
    const key = `${task.tenantId}/${task.id}`;
    this.running.set(key, controller);
    const timeout = setTimeout(
      () => controller.abort(new AionError('service.timeout', 'task timed out')),
      this.deps.taskTimeoutMs ?? 60_000,
    );
    try {
      await this.execute(task, plan, started, controller.signal);
    } finally {
      clearTimeout(timeout);
      this.running.delete(key);
    }
  }

  private async execute(
    task: TaskRecord,
    plan: Plan,
    started: boolean,
    signal: AbortSignal,
  ): Promise<void> {
    const { repository } = this.deps;
    const { ranked, chosenBy, reason, estimate, rule } = plan;
    // The routing decision and the start on the first engine are one transaction (QUEUED ->
    // ROUTED -> RUNNING, each step published); fallbacks then update the RUNNING task.
    let status: TaskStatus = started ? 'RUNNING' : 'QUEUED';
    let why = reason;
    const failures: string[] = [];
    // A local engine had the task's data before the current one (route `hybrid`).
    let localEngineTried = false;
    for (const [index, candidate] of ranked.entries()) {
      const engine = candidate.engine;
      // Nothing to reserve or commit on an engine that costs nothing.
      const reserved = !isFree(engine);
      const engineInfo = {
        route: taskRoute(engine.tier, task.request.sla.privacy, localEngineTried),
        name: engine.name,
        chosenBy,
        reason: why,
      };
      let moved: TaskRecord | undefined = started && index === 0 ? task : undefined;
      if (!moved)
        try {
          // The start and its budget reservation are one transaction: a refused reservation
          // leaves the task where it was, and the next engine is tried.
          moved = await repository.transition(task.id, status, 'RUNNING', {
            engine: engineInfo,
            sovereignty: sovereigntyFacts(candidate, rule, task.request),
            ...(status === 'QUEUED' ? { via: ['ROUTED' as const] } : {}),
            ...(reserved
              ? {
                  budget: {
                    kind: 'reserve' as const,
                    projectId: task.request.project_id,
                    amountUsd: estimateCost(engine, estimate),
                  },
                }
              : {}),
          });
        } catch (err) {
          const error = toAionError(err);
          if (error.code !== 'budget.exceeded') throw err;
          failures.push(`${engine.name}: ${error.message}`);
          if (index === ranked.length - 1) {
            // A fallback that could not reserve gives back what the engine before it held.
            await this.fail(task, status, error);
            return;
          }
          continue;
        }
      if (!moved && status !== 'RUNNING') return;
      status = 'RUNNING';
      const startedAt = performance.now();
      // Stream events are written in order, and all of them before (or with) the final event.
      const stream = new StreamBatcher((events) => repository.appendStream(task.id, events));
      // A result-only task (nobody streams it) keeps no token or partial rows.
      const streamed = !task.request.result_only;
      let output: Awaited<ReturnType<typeof this.deps.executor.execute>>;
      let unwritten: Awaited<ReturnType<typeof stream.drain>>;
      try {
        output = await this.deps.breakers.execute(
          engine.name,
          (breakerSignal) =>
            this.deps.executor.execute(engine, {
              intent: task.intent,
              params: task.request.params,
              stream: streamed,
              signal: AbortSignal.any([signal, breakerSignal]),
              onToken: streamed
                ? (token) => stream.push({ kind: 'token', data: { token } })
                : () => undefined,
              onPartial: streamed
                ? (partial) => stream.push({ kind: 'partial', data: { partial } })
                : () => undefined,
            }),
          signal,
        );
        unwritten = await stream.drain();
      } catch (err) {
        await repository.appendStream(task.id, await stream.drain()).catch(() => undefined);
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
          return;
        }
        const detail = toAionError(err).message;
        failures.push(`${engine.name}: ${detail}`);
        if (engine.tier === 'local') localEngineTried = true;
        this.deps.logger?.warn('engine failed; falling back', {
          task_id: task.id,
          engine: engine.name,
          reason: detail,
        });
        const next = ranked[index + 1];
        if (!next) {
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
        continue;
      }
      const latencyMs = Math.round(performance.now() - startedAt);
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
        model: output.model,
      };
      // The result and the actual cost are recorded in one transaction, outside the engine's
      // try: a failed write never makes the next engine run the task again. A task no longer
      // RUNNING (canceled, or taken as lost) is not recorded as OK: the transition that moved it
      // released its budget.
      await outcomeWrites.execute(() =>
        repository.transition(
          task.id,
          'RUNNING',
          'OK',
          {
            engine: engineInfo,
            result: output.output,
            usage,
            ...(reserved ? { budget: { kind: 'commit' as const, actualUsd: costUsd } } : {}),
          },
          [...unwritten, { kind: 'done', data: { status: 'OK' } }],
        ),
      );
      return;
    }
  }

  /** Ends a task whose attempts ran out; it goes to the dead-letter queue with its attempt count. */
  private async finish(
    task: TaskRecord,
    to: 'ERROR' | 'TIMEOUT',
    error: { code: string; message: string; retryable: boolean },
    attempts: number,
  ): Promise<void> {
    await outcomeWrites.execute(() =>
      this.deps.repository.transition(
        task.id,
        'RUNNING',
        to,
        // With the reservation released in the same transaction.
        { error, deadLetter: { attempts }, budget: { kind: 'release' } },
        { kind: 'error', data: error },
      ),
    );
  }

  private async fail(
    task: TaskRecord,
    from: TaskStatus,
    error: AionError,
    violation?: TransitionPatch['violation'],
  ): Promise<void> {
    const doc = {
      code: error.code,
      message: error.message,
      retryable: error.code === 'service.unavailable' || error.code === 'budget.exceeded',
    };
    await this.deps.repository.transition(
      task.id,
      from,
      'ERROR',
      {
        error: doc,
        // Released with it: a fallback refused by the budget gives back what the engine before held.
        ...(from === 'RUNNING' ? { budget: { kind: 'release' as const } } : {}),
        // The receipt of a refused task names the rule that refused it; nothing processed it.
        ...(violation ? { violation, sovereignty: refusedBy(violation.rule) } : {}),
      },
      { kind: 'error', data: { ...doc, ...(error.details ? { details: error.details } : {}) } },
    );
  }

  /**
   * Recovers tasks whose replica died: a task still QUEUED long after it was accepted runs here;
   * one RUNNING past the task timeout (its own replica would have ended it) ends TIMEOUT as
   * lost, goes to the dead-letter queue and gives back its budget reservation.
   */
  async recoverStale(options: { queuedForMs: number; limit?: number }): Promise<number> {
    const claimed = await this.deps.repository.claimStale({
      queuedForMs: options.queuedForMs,
      runningForMs: (this.deps.taskTimeoutMs ?? 60_000) + options.queuedForMs,
      limit: options.limit ?? 100,
    });
    for (const task of claimed) {
      const context = {
        tenantId: task.tenantId,
        subject: task.subject,
        // Its submitter held tasks:submit; the least role granting it carries the task on.
        roles: ['developer'],
        requestId: `recover-${task.id}`,
      };
      this.deps.logger?.warn('recovering a task whose replica stopped', {
        task_id: task.id,
        tenant_id: task.tenantId,
        status: task.status,
      });
      if (task.status === 'QUEUED') {
        setImmediate(
          () => void runWithTenant(context, () => this.run(task)).catch(() => undefined),
        );
        continue;
      }
      const error = {
        code: 'task.lost',
        message: `the orchestrator replica running this task stopped while it was ${task.status}`,
        retryable: true,
      };
      await runWithTenant(context, async () => {
        await this.deps.repository.transition(
          task.id,
          task.status,
          task.status === 'RUNNING' ? 'TIMEOUT' : 'ERROR',
          { error, deadLetter: { attempts: 1 }, budget: { kind: 'release' } },
          { kind: 'error', data: error },
        );
      });
    }
    return claimed.length;
  }

  /** Tasks this replica is executing (graceful shutdown waits for them). */
  get inFlight(): number {
    return this.running.size;
  }
}
