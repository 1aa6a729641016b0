import { asBackgroundWork } from '@aion/db';
import type { Logger } from '@aion/telemetry';
import type { OutgoingMessage } from './envelope';

/** One committed outbox row, as its writer built it. */
export interface CommittedEvent {
  eventId: string;
  message: OutgoingMessage;
}

export interface CommittedPublisherOptions {
  publish: (messages: OutgoingMessage[]) => Promise<void>;
  /** Marks the rows published (one statement); a failure leaves them to the relay's sweep. */
  markPublished: (eventIds: string[]) => Promise<void>;
  /**
   * How long published rows wait to be marked together (default 200 ms): one statement marks
   * every commit of the spell instead of one each. Far below the relay's sweep age, so a row is
   * marked long before anyone would sweep it up.
   */
  markAfterMs?: number;
  /** Test hook: after the publish, before the mark (a crash there). */
  afterPublish?: (messages: OutgoingMessage[]) => void | Promise<void>;
  /** Called when the publisher gives its queue up to the relay (see `handOver`). */
  onHandOver: () => void;
  batchSize?: number;
  /** Events waiting before the publisher gives up and hands everything to the relay. */
  maxQueued?: number;
  logger?: Logger;
}

/**
 * Publish after commit: the process that committed outbox rows sends them to the broker right
 * away, in commit order, and marks them in one statement; the relay only sweeps up rows a crash
 * left behind. A task's writes are sequential (the next one starts after the previous commit),
 * so commit order is each key's order. While the broker fails, the queue waits and retries in
 * order; if it grows past `maxQueued` the publisher empties it and stops (`handedOver`): the
 * rows are in the outbox, and the relay publishes everything in `seq` order until it finds the
 * outbox empty, then calls `resume`.
 */
export class CommittedPublisher {
  private queue: CommittedEvent[] = [];
  private draining: Promise<void> | undefined;
  private unmarked: string[] = [];
  private marking: NodeJS.Timeout | undefined;
  private markInFlight: Promise<void> | undefined;
  private stopped = false;
  private handedOver = false;
  /** Commits announced while handed over: the relay resumes only after a quiet empty sweep. */
  private announcedWhileHandedOver = 0;

  constructor(private readonly options: CommittedPublisherOptions) {}

  /** Rows that just committed, in their commit order. */
  committed(events: CommittedEvent[]): void {
    if (events.length === 0) return;
    if (this.stopped || this.handedOver) {
      this.announcedWhileHandedOver++;
      this.options.onHandOver();
      return;
    }
    this.queue.push(...events);
    if (this.queue.length > (this.options.maxQueued ?? 10_000)) return this.handOver();
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  /** Whether rows are left to the relay alone (stopped, or handed over after a long outage). */
  get relayOnly(): boolean {
    return this.stopped || this.handedOver;
  }

  /** A counter the relay reads before and after an empty sweep (see `resume`). */
  get announcements(): number {
    return this.announcedWhileHandedOver;
  }

  /**
   * The relay found the outbox empty, and no commit was announced since it looked
   * (`announcementsBefore`): every row is published, so publishing after commit is safe again.
   */
  resume(announcementsBefore: number): void {
    if (!this.stopped && this.handedOver && announcementsBefore === this.announcedWhileHandedOver)
      this.handedOver = false;
  }

  /** Stops publishing; what is still queued stays in the outbox for the relay's flush. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.draining;
    this.queue = [];
    await this.markNow();
  }

  private handOver(): void {
    this.handedOver = true;
    this.queue = [];
    this.options.logger?.warn('outbox: publishing after commit paused; the relay takes over');
    this.options.onHandOver();
  }

  private async drain(): Promise<void> {
    let failures = 0;
    while (this.queue.length > 0 && !this.stopped && !this.handedOver) {
      const batch = this.queue.slice(0, this.options.batchSize ?? 500);
      const messages = batch.map((e) => e.message);
      try {
        await this.options.publish(messages);
      } catch (err) {
        // Kept at the head of the queue: nothing behind it may overtake it.
        failures++;
        this.options.logger?.warn('outbox: publish after commit failed; retrying', {
          attempt: failures,
          reason: err instanceof Error ? err.message : String(err),
        });
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** failures)));
        continue;
      }
      failures = 0;
      this.queue.splice(0, batch.length);
      await this.options.afterPublish?.(messages);
      this.unmarked.push(...batch.map((e) => e.eventId));
      this.scheduleMark();
    }
  }

  /** A mark of its own if no task write takes the rows first: the process's work, not a request's. */
  private scheduleMark(): void {
    this.marking ??= setTimeout(
      () => void asBackgroundWork(() => this.markNow()),
      this.options.markAfterMs ?? 200,
    );
    this.marking.unref?.();
  }

  /**
   * Hands the rows published and not yet marked to a statement that marks them along with its
   * own work (the next task write), instead of a statement of their own. The caller gives them
   * back with `giveBack` if its statement failed.
   */
  takeUnmarked(): string[] {
    const eventIds = this.unmarked;
    if (eventIds.length === 0) return eventIds;
    this.unmarked = [];
    clearTimeout(this.marking);
    this.marking = undefined;
    return eventIds;
  }

  /** Rows `takeUnmarked` handed out that were not marked after all: marked the usual way. */
  giveBack(eventIds: string[]): void {
    if (eventIds.length === 0) return;
    this.unmarked.push(...eventIds);
    if (this.stopped) return void this.markNow();
    this.scheduleMark();
  }

  /** Marks what was published since the last mark, in one statement. */
  private async markNow(): Promise<void> {
    clearTimeout(this.marking);
    this.marking = undefined;
    await this.markInFlight;
    const eventIds = this.unmarked;
    this.unmarked = [];
    if (eventIds.length === 0) return;
    // A failed mark publishes them again later (the sweep): at least once, as ever.
    this.markInFlight = this.options
      .markPublished(eventIds)
      .catch((err: unknown) => {
        this.options.logger?.warn('outbox: could not mark published rows', {
          reason: err instanceof Error ? err.message : String(err),
        });
      })
      .finally(() => (this.markInFlight = undefined));
    await this.markInFlight;
  }
}
