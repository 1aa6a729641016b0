import type { NewStreamEvent, StreamEvent } from './ports';

/**
 * Writes an engine's stream events in order and in batches: events that arrive together (a
 * module's partials, a burst of tokens) share one transaction, and whatever is still unwritten
 * when the engine finishes goes into the task's final transaction instead of one of its own.
 */
export class StreamBatcher {
  private pending: NewStreamEvent[] = [];
  private writing: Promise<void> = Promise.resolve();
  private scheduled = false;

  constructor(
    private readonly write: (events: NewStreamEvent[]) => Promise<void>,
    private readonly windowMs = 5,
  ) {}

  push(event: NewStreamEvent): void {
    this.pending.push(event);
    if (this.scheduled) return;
    this.scheduled = true;
    // A short window lets events arriving together share a transaction; live streams lag by
    // at most this much.
    setTimeout(() => {
      this.scheduled = false;
      this.writing = this.writing.then(() => {
        const batch = this.pending.splice(0);
        // A failed write loses only live progress; the final result is recorded regardless.
        return batch.length ? this.write(batch).catch(() => undefined) : undefined;
      });
    }, this.windowMs);
  }

  /** Waits for writes in flight and hands back what is still unwritten, in order. */
  async drain(): Promise<NewStreamEvent[]> {
    await this.writing;
    return this.pending.splice(0);
  }
}

/**
 * Takes the buffered events that follow `last` without a gap, in order; drops those already
 * seen. Leaves the rest (after a gap) in the buffer.
 */
export function contiguous(buffer: StreamEvent[], last: number): StreamEvent[] {
  buffer.sort((a, b) => a.sequence - b.sequence);
  while (buffer.length && buffer[0]!.sequence <= last) buffer.shift();
  let run = 0;
  while (run < buffer.length && buffer[run]!.sequence === last + 1 + run) run++;
  return buffer.splice(0, run);
}
