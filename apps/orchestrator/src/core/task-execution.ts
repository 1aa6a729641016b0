import { AionError, isDependencyUnavailable, toAionError } from '@aion/errors';
import { retryPolicy } from '@aion/resilience';
import type { Logger } from '@aion/telemetry';
import { taskRoute } from './engines';
import type { EngineExecutor, TaskRecord, TaskRepository, TransitionPatch } from './ports';
import { refusedBy, sovereigntyFacts } from './receipts';
import type { ResidencyDecision, ResidencyPolicy } from './residency';
import { estimateCost } from './router';
import { StreamBatcher } from './stream-batcher';
import type { TaskStatus } from './task-state';
import { isFree, planTask, type Plan, type PlanDeps } from './task-plan';

export interface ExecutionDeps extends PlanDeps {
  repository: TaskRepository;
  executor: EngineExecutor;
  residency: ResidencyPolicy;
  logger?: Logger | undefined;
  /** Upper bound on a task's execution (default 60 s): past it the task ends TIMEOUT. */
  taskTimeoutMs?: number;
}

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

/**
 * Runs accepted tasks on this replica: routes them (when they were not routed on intake), starts
 * each on its engine with its budget reservation, runs it behind the engine's breaker with
 * fallback down the ranked list, streams what it produces, and writes the outcome with the budget
 * settled in the same transaction. Every end is written to the task, never thrown.
 */
export class TaskExecution {
  /** The runs of this replica by `tenant/id`: task ids are only unique within a tenant. */
  private readonly running = new Map<string, AbortController>();

  constructor(private readonly deps: ExecutionDeps) {}

  /** This replica is running the task now (its outcome may be waiting for the database). */
  isRunning(tenantId: string, id: string): boolean {
    return this.running.has(`${tenantId}/${id}`);
  }

  /** Stops this replica's run of the task, if it has one (the task was canceled). */
  abort(tenantId: string, id: string, reason: AionError): void {
    this.running.get(`${tenantId}/${id}`)?.abort(reason);
  }

  /** Tasks this replica is executing (graceful shutdown waits for them). */
  get inFlight(): number {
    return this.running.size;
  }

  /** Decides residency, routes and executes a task accepted QUEUED. */
  async run(task: TaskRecord): Promise<void> {
    const request = task.request;
    let plan: Plan;
    let residency: ResidencyDecision | undefined;
    try {
      residency = await this.deps.residency.decide(task.tenantId, request.data_context);
      plan = await planTask(this.deps, request, residency);
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
  async runPlanned(task: TaskRecord, plan: Plan, started: boolean): Promise<void> {
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
    // The task as last written: each transition is built from it (its events describe it).
    let current = task;
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
          moved = await repository.transition(current, status, 'RUNNING', {
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
            await this.fail(current, status, error);
            return;
          }
          continue;
        }
      if (!moved && status !== 'RUNNING') return;
      if (moved) current = moved;
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
              current,
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
            current,
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
          current,
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
        task,
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
      task,
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
}
