// The retention sweep: deletes expired uploads no active job needs, on every replica.
import type { Logger } from '@aion/telemetry';
import type { Upload, UploadService } from './uploads';

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
