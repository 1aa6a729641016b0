// Upload retention: when an upload expires, what keeps it, and the sweep that deletes it.
import { AionError } from '@aion/errors';
import type { Logger } from '@aion/telemetry';
import type { JobStatus } from './model';
import type { Upload, UploadJob, UploadService } from './uploads';

/** Jobs that still need an upload's bytes: a pending one reads them yet, a running one may again. */
export const ACTIVE_JOB_STATUSES: readonly JobStatus[] = ['pending', 'running'];

/** An upload a pending or running job names cannot be deleted: 409 naming those jobs. */
export function refuseWhileInUse(upload: Pick<Upload, 'id'>, jobs: UploadJob[]): void {
  const active = jobs.filter((j) => ACTIVE_JOB_STATUSES.includes(j.status));
  if (active.length === 0) return;
  throw new AionError(
    'state.upload_in_use',
    `upload ${upload.id} is the source of ${active.length} pending or running job(s); cancel them or wait until they finish`,
    {
      details: active.map((j) => ({
        field: 'jobs',
        reason: 'in_use',
        message: `job ${j.id} is ${j.status}`,
      })),
    },
  );
}

/** An upload whose expiry has passed is no source for a new job (one already queued still reads it). */
export const isExpired = (upload: Pick<Upload, 'expiresAt'>, now: Date) =>
  upload.expiresAt.getTime() <= now.getTime();

export interface SweeperOptions {
  /** How often a round runs. */
  intervalMs: number;
  /** Uploads one round deletes at most (the next round takes the rest). */
  batch: number;
}

/**
 * Runs the retention sweep every `intervalMs` on every replica (rounds of several replicas
 * never delete one upload twice: see UploadService.sweep), logging what it deleted and what failed.
 */
export class UploadSweeper {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;

  constructor(
    private readonly uploads: UploadService,
    private readonly options: SweeperOptions,
    private readonly logger?: Logger,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.runOnce(), this.options.intervalMs);
    this.timer.unref();
  }

  /** One round now, or the one already running. */
  runOnce(): Promise<void> {
    const round =
      this.round ??
      this.sweepRound().finally(() => {
        this.round = undefined;
      });
    this.round = round;
    return round;
  }

  private async sweepRound(): Promise<void> {
    try {
      const { deleted, failed } = await this.uploads.sweep(this.options.batch);
      if (deleted.length)
        this.logger?.info('expired uploads deleted', {
          count: deleted.length,
          uploads: deleted.map((u: Upload) => u.id),
        });
      for (const f of failed)
        this.logger?.warn('expired upload not deleted; the next round tries again', {
          upload: f.id,
          error: f.error instanceof Error ? f.error.message : String(f.error),
        });
    } catch (err) {
      this.logger?.error('upload retention sweep failed', { error: (err as Error).message });
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.round;
  }
}
