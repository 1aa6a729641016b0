import type { StageProgress } from './ports';

/**
 * The progress of a running stage, written at a bounded rate: reports only replace the latest
 * one in memory (the engine may report many times a second), and every `intervalMs` the latest,
 * when it changed, is written; one write at a time, a failed one is skipped (the next carries
 * newer numbers). Stopped before the stage's own checkpoint is written, so a late progress
 * write never follows it.
 */
export class ProgressCheckpointer {
  private latest: StageProgress | undefined;
  private written = '';
  private writing: Promise<unknown> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly write: (progress: StageProgress) => Promise<unknown>,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => this.flush(), intervalMs);
  }

  readonly report = (progress: StageProgress): void => {
    this.latest = progress;
  };

  private flush(): void {
    const progress = this.latest;
    if (!progress) return;
    const key = JSON.stringify(progress);
    if (key === this.written) return;
    this.written = key;
    this.writing = this.writing.then(() => this.write(progress)).catch(() => undefined);
  }

  /** No more writes; resolves once the one in flight, if any, is done. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.writing;
  }
}
