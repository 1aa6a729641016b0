import { EventEmitter } from 'node:events';
import { AionError } from '@aion/errors';
import { requireTenant } from '@aion/tenancy';
import type { StreamEvent, TaskRecord, TaskRepository } from './ports';
import { contiguous } from './stream-batcher';
import { isTerminal } from './task-state';

/**
 * How clients see tasks: a task's current state (recently finished ones from memory: they never
 * change again), waiting for its end, and its event stream. What this replica writes arrives
 * through the repository's notifications without reading it back; what other replicas write is
 * read from the database when a gap or a quiet spell shows it.
 */
export class TaskWatch {
  private readonly notifier = new EventEmitter().setMaxListeners(0);

  /** Tasks this replica accepted and is still working on (`tenant/id`); nobody polls for them. */
  private readonly local = new Set<string>();

  /** Finished tasks never change again: recently finished ones are answered from memory. */
  private readonly finished = new Map<string, TaskRecord>();

  constructor(
    private readonly deps: {
      repository: TaskRepository;
      /** How often waiters look for what other replicas wrote (default 250 ms). */
      streamPollMs?: number | undefined;
    },
  ) {
    deps.repository.onAppended((tenantId, id, event, record) => {
      if (record && isTerminal(record.status)) this.remember(record);
      this.notifier.emit(`${tenantId}/${id}`, event);
    });
  }

  /** A task this replica works on: waiters hear of its end here and need not poll. */
  working(tenantId: string, id: string): void {
    this.local.add(`${tenantId}/${id}`);
  }

  /** Its run here ended, however it ended: waiters look once more. */
  done(tenantId: string, id: string): void {
    const key = `${tenantId}/${id}`;
    this.local.delete(key);
    this.notifier.emit(key);
  }

  private remember(record: TaskRecord): void {
    this.finished.set(`${record.tenantId}/${record.id}`, record);
    if (this.finished.size > 10_000) this.finished.delete(this.finished.keys().next().value!);
  }

  async get(id: string): Promise<TaskRecord> {
    const cached = this.finished.get(`${requireTenant().tenantId}/${id}`);
    if (cached) return cached;
    const record = await this.deps.repository.get(id);
    if (!record) throw AionError.notFound('task', id);
    return record;
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
}
