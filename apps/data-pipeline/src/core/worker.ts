import { AionError } from '@aion/errors';
import type { Logger } from '@aion/telemetry';
import { runWithTenant } from '@aion/tenancy';
import { type Checkpoint, type Job, type Stage, isPermanent } from './model';
import type { ClaimedJob, JobStore, StageProgress } from './ports';
import { ProgressCheckpointer } from './progress';
import type { StageOutcome } from './stages';

export interface StageRunner {
  run(
    stage: Stage,
    job: Job,
    checkpoints: Partial<Record<Stage, Checkpoint>>,
    signal: AbortSignal,
    progress?: (p: StageProgress) => void,
  ): Promise<StageOutcome>;
  cleanup(job: Job): Promise<void>;
}

export interface WorkerOptions {
  /** This replica's name on the leases it holds. */
  owner: string;
  leaseMs: number;
  pollMs: number;
  stageTimeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** How often a running stage's progress is written at most (default 1000 ms). */
  progressIntervalMs?: number;
}

/** Exponential backoff per attempt, capped: attempt 1 waits base, 2 waits 2×base, ... */
export const backoffMs = (attempt: number, base: number, max: number) =>
  Math.min(max, base * 2 ** Math.max(0, attempt - 1));

class LeaseLost extends Error {}

/** A short, safe text of a failure: an unexpected error's first line, not a query and its parameters. */
function errorText(err: unknown): string {
  if (err instanceof AionError) return err.message;
  const inner = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const text = inner instanceof Error ? inner.message : String(inner);
  return (text.split('\n')[0] ?? '').slice(0, 300);
}

/**
 * Runs queued jobs: claims one (any replica may, SKIP LOCKED), runs its stages from the first one
 * without a checkpoint, renews its lease meanwhile, and retries transient failures with backoff
 * until its attempts run out (then the job is failed and dead-lettered). Input errors fail at once.
 */
export class PipelineWorker {
  private stopping = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly running = new Set<AbortController>();

  constructor(
    private readonly store: JobStore,
    private readonly stages: StageRunner,
    private readonly options: WorkerOptions,
    private readonly logger?: Logger,
  ) {}

  start(): void {
    this.loop ??= (async () => {
      while (!this.stopping) {
        const worked = await this.runOnce().catch((err: unknown) => {
          this.logger?.error('pipeline worker round failed', { error: (err as Error).message });
          return false;
        });
        if (!worked && !this.stopping)
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, this.options.pollMs);
            this.wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
      }
    })();
  }

  /** A job was queued: look now instead of at the next poll. */
  nudge(): void {
    this.wake?.();
  }

  /** Stops claiming, abandons the running job (its lease lapses, another replica resumes it). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    for (const c of this.running) c.abort(new LeaseLost('worker stopping'));
    await this.loop;
  }

  /** Claims and runs one job; false when none was waiting. */
  async runOnce(): Promise<boolean> {
    const claimed = await this.store.claim(this.options.owner, this.options.leaseMs);
    if (!claimed) return false;
    await this.runJob(claimed);
    return true;
  }

  /** In the job's tenant: its statements pass row-level security, its events carry the tenant. */
  private runJob(claimed: ClaimedJob): Promise<void> {
    const { job } = claimed;
    return runWithTenant(
      { tenantId: job.tenantId, subject: 'pipeline-worker', roles: ['service'], requestId: job.id },
      () => this.runClaimed(claimed),
    );
  }

  private async runClaimed({ job, checkpoints }: ClaimedJob): Promise<void> {
    const { owner, leaseMs } = this.options;
    const abort = new AbortController();
    this.running.add(abort);
    const renewal = setInterval(
      () => {
        this.store.renew(job, owner, leaseMs).then(
          (held) => held || abort.abort(new LeaseLost('lease lost or job canceled')),
          () => undefined,
        );
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    let stage: Stage = job.stages.find((s) => !checkpoints[s]) ?? job.stages[0]!;
    try {
      if (job.attempts > job.maxAttempts) {
        // Claimed again after its worker died on the last attempt: nothing is left to try.
        await this.store.fail(job, stage, owner, {
          code: 'service.unavailable',
          message: `the job's worker stopped during its last attempt (${job.maxAttempts})`,
          details: [],
          deadLettered: true,
        });
        return;
      }
      for (const s of job.stages) {
        if (checkpoints[s]) continue;
        stage = s;
        await this.store.startStage(job, s);
        const progress = new ProgressCheckpointer(
          (p) => this.store.progress(job, owner, p),
          this.options.progressIntervalMs ?? 1000,
        );
        const outcome = await this.withTimeout(s, abort.signal, (signal) =>
          this.stages.run(s, job, checkpoints, signal, progress.report),
        ).finally(() => progress.stop());
        if (!(await this.store.finishStage(job, s, owner, outcome))) return;
        checkpoints[s] = outcome.checkpoint;
        if (outcome.failure) throw outcome.failure;
      }
      await this.store.succeed(job, owner);
      await this.stages.cleanup(job);
    } catch (err) {
      if (abort.signal.aborted && abort.signal.reason instanceof LeaseLost) {
        this.logger?.warn('pipeline job left to another worker', {
          job_id: job.id,
          reason: abort.signal.reason.message,
        });
        return;
      }
      await this.failed(job, stage, err);
    } finally {
      clearInterval(renewal);
      this.running.delete(abort);
    }
  }

  private async failed(job: Job, stage: Stage, err: unknown) {
    const { owner } = this.options;
    const message = errorText(err);
    if (!isPermanent(err) && job.attempts < job.maxAttempts) {
      const delay = backoffMs(job.attempts, this.options.retryBaseMs, this.options.retryMaxMs);
      this.logger?.warn('pipeline stage failed; retrying', {
        job_id: job.id,
        stage,
        attempt: job.attempts,
        delay_ms: delay,
        error: message,
      });
      await this.store.retry(job, stage, owner, message, delay);
      return;
    }
    const aion = err instanceof AionError ? err : undefined;
    await this.store.fail(job, stage, owner, {
      code: aion?.code ?? 'internal.error',
      message: aion ? message : `stage ${stage} failed: ${message}`,
      details: aion?.details ?? [],
      // Exhausted retries land in the dead-letter state; an input error is simply failed.
      deadLettered: !isPermanent(err),
    });
    await this.stages.cleanup(job);
  }

  private async withTimeout<T>(
    stage: Stage,
    outer: AbortSignal,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const ms = this.options.stageTimeoutMs;
    const signal = AbortSignal.any([outer, AbortSignal.timeout(ms)]);
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () =>
        reject(
          outer.aborted
            ? outer.reason
            : new AionError('service.timeout', `stage ${stage} took longer than ${ms} ms`),
        );
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined); // settled through the race below, or not at all
    try {
      return await Promise.race([fn(signal), aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}
