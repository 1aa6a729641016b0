import { createHash } from 'node:crypto';
import type { Logger } from '@aion/telemetry';

/** One event of Langfuse's batch ingestion API (`POST /api/public/ingestion`). */
export interface LangfuseEvent {
  /** Unique per event: Langfuse deduplicates by it, so a retried batch is not counted twice. */
  id: string;
  timestamp: string;
  type: 'trace-create' | 'generation-create';
  body: Record<string, unknown>;
}

/** A Langfuse deployment (a project's keys), in a jurisdiction like any other. */
export interface LangfuseTarget {
  url: string;
  publicKey: string;
  secretKey: string;
}

export interface ExporterOptions {
  /** Events per request (Langfuse takes batches up to 3.5 MB). */
  maxBatchEvents?: number;
  maxBatchBytes?: number;
  /** Events waiting beyond this are dropped, oldest first: tracing never holds a task's memory. */
  maxQueue?: number;
  /** Tries per event: a batch that failed whole (network, 5xx) or an event Langfuse answered 5xx. */
  maxAttempts?: number;
  timeoutMs?: number;
  flushIntervalMs?: number;
  logger?: Logger;
}

interface Queued {
  event: LangfuseEvent;
  bytes: number;
  attempts: number;
}

/** Langfuse's 207 answer: which events it took and which it refused, each with a status. */
interface IngestionAnswer {
  successes?: { id: string; status: number }[];
  errors?: { id: string; status: number; message?: string }[];
}

/**
 * Sends events to Langfuse in batches. Langfuse answers 207 with each event's outcome: refused
 * events (4xx) are dropped and logged, events it failed on (5xx) go back to the queue for another
 * try, as does a whole batch on a network error or a 5xx; a 4xx for the whole batch (bad keys)
 * drops it. Every failure is logged, never thrown: tracing never fails a task.
 */
export class LangfuseExporter {
  private queue: Queued[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly o: Required<Omit<ExporterOptions, 'logger'>> & { logger?: Logger | undefined };
  /** Events dropped since start (queue full, refused, out of tries). */
  dropped = 0;

  constructor(
    private readonly target: LangfuseTarget,
    options: ExporterOptions = {},
  ) {
    this.o = {
      maxBatchEvents: options.maxBatchEvents ?? 100,
      maxBatchBytes: options.maxBatchBytes ?? 3_000_000,
      maxQueue: options.maxQueue ?? 10_000,
      maxAttempts: options.maxAttempts ?? 3,
      timeoutMs: options.timeoutMs ?? 5_000,
      flushIntervalMs: options.flushIntervalMs ?? 2_000,
      logger: options.logger,
    };
  }

  get pending(): number {
    return this.queue.length;
  }

  enqueue(...events: LangfuseEvent[]): void {
    for (const event of events)
      this.queue.push({ event, bytes: Buffer.byteLength(JSON.stringify(event)), attempts: 0 });
    const over = this.queue.length - this.o.maxQueue;
    if (over > 0) {
      this.queue.splice(0, over);
      this.dropped += over;
    }
  }

  /** Sends what is queued now, one batch after another; what fails retryably stays queued. */
  flush(): Promise<void> {
    this.flushing ??= this.sendAll().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  start(): void {
    const tick = () => {
      void this.flush().finally(() => {
        if (!this.timer) return;
        this.timer = setTimeout(tick, this.o.flushIntervalMs);
        this.timer.unref();
      });
    };
    this.timer = setTimeout(tick, this.o.flushIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async sendAll(): Promise<void> {
    const round = this.queue.splice(0);
    const retry: Queued[] = [];
    while (round.length) {
      let bytes = 0;
      let n = 0;
      while (n < round.length && n < this.o.maxBatchEvents) {
        // One event over the byte limit still goes alone: Langfuse says so itself.
        if (n > 0 && bytes + round[n]!.bytes > this.o.maxBatchBytes) break;
        bytes += round[n]!.bytes;
        n++;
      }
      retry.push(...(await this.send(round.splice(0, n))));
    }
    for (const q of retry)
      if (++q.attempts < this.o.maxAttempts) this.queue.push(q);
      else this.drop(1, 'no more tries', q.event.id);
  }

  /** Sends one batch; returns the events to try again. */
  private async send(batch: Queued[]): Promise<Queued[]> {
    const auth = Buffer.from(`${this.target.publicKey}:${this.target.secretKey}`).toString(
      'base64',
    );
    let res: Response;
    try {
      res = await fetch(`${this.target.url.replace(/\/$/, '')}/api/public/ingestion`, {
        method: 'POST',
        headers: { authorization: `Basic ${auth}`, 'content-type': 'application/json' },
        body: JSON.stringify({ batch: batch.map((q) => q.event) }),
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
    } catch (err) {
      this.o.logger?.warn('Langfuse unreachable; the batch is tried again', {
        events: batch.length,
        reason: err instanceof Error ? err.message : String(err),
      });
      return batch;
    }
    if (res.status >= 500) {
      await res.body?.cancel();
      this.o.logger?.warn('Langfuse failed; the batch is tried again', { status: res.status });
      return batch;
    }
    if (res.status >= 400) {
      await res.body?.cancel();
      this.drop(batch.length, `Langfuse refused the batch (${res.status})`);
      return [];
    }
    const answer = (await res.json().catch(() => ({}))) as IngestionAnswer;
    const failed = new Map((answer.errors ?? []).map((e) => [e.id, e]));
    const again: Queued[] = [];
    for (const q of batch) {
      const error = failed.get(q.event.id);
      if (!error) continue;
      if (error.status >= 500) again.push(q);
      else
        this.drop(
          1,
          `Langfuse refused the event (${error.status}): ${error.message ?? ''}`,
          q.event.id,
        );
    }
    return again;
  }

  private drop(count: number, reason: string, eventId?: string): void {
    this.dropped += count;
    this.o.logger?.warn('LLM trace events dropped', { count, reason, event_id: eventId });
  }
}

/**
 * One exporter per Langfuse deployment (its URL and keys: each tenant may have its own), made on
 * first use; all start and stop together with the service.
 */
export class LangfuseExporters {
  private readonly byTarget = new Map<string, LangfuseExporter>();
  private started = false;

  constructor(private readonly options: ExporterOptions = {}) {}

  for(target: LangfuseTarget): LangfuseExporter {
    // The secret is part of the key (a rotated key gets a new exporter) but only as a digest.
    const secret = createHash('sha256').update(target.secretKey).digest('hex');
    const key = `${target.url}\u0000${target.publicKey}\u0000${secret}`;
    let exporter = this.byTarget.get(key);
    if (!exporter) {
      exporter = new LangfuseExporter(target, this.options);
      this.byTarget.set(key, exporter);
      if (this.started) exporter.start();
    }
    return exporter;
  }

  start(): void {
    this.started = true;
    for (const exporter of this.byTarget.values()) exporter.start();
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.byTarget.values()].map((exporter) => exporter.stop()));
  }
}
