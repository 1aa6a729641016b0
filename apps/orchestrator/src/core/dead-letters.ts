import type { AuditRecorder } from '@aion/events';
import { AionError } from '@aion/errors';
import { requireTenant } from '@aion/tenancy';
import type { TaskRequestDoc } from './ports';

export type DeadLetterSource = 'task' | 'message';

export interface DeadLetter {
  id: string;
  source: DeadLetterSource;
  ref: string;
  subject: string;
  errorCode: string;
  errorMessage: string;
  retryCount: number;
  payload: Record<string, unknown>;
  failedAt: Date;
  resolvedAt?: Date | undefined;
  resolvedBy?: string | undefined;
  resolution?: 'resolved' | 'replayed' | undefined;
  note?: string | undefined;
  replayRef?: string | undefined;
}

/** A bus record as it was produced, kept so a replay republishes it byte for byte. */
export interface DeadMessage {
  topic: string;
  key: string;
  value: Uint8Array;
  headers: Record<string, string>;
  eventId: string;
  eventType: string;
}

export interface NewDeadMessage {
  ref: string;
  errorMessage: string;
  retryCount: number;
  failedAt: Date;
  payload: Record<string, unknown>;
  message: DeadMessage;
}

/** The dead-letter store; every call runs in the caller's tenant. */
export interface DeadLetterStore {
  /** Idempotent by ref: a redelivered dead letter is recorded once. */
  recordMessage(entry: NewDeadMessage): Promise<void>;
  list(options: {
    resolved?: boolean | undefined;
    source?: DeadLetterSource | undefined;
    limit: number;
    offset: number;
  }): Promise<{ items: DeadLetter[]; total: number }>;
  get(id: string): Promise<DeadLetter | undefined>;
  /**
   * Closes an open entry (undefined when it was already closed, so two operators cannot both
   * act on it). For message replays, re-enqueues the stored record in the same transaction.
   */
  close(
    id: string,
    closing: {
      by: string;
      resolution: 'resolved' | 'replayed';
      note?: string | undefined;
      replayRef?: string | undefined;
      republish?: boolean;
    },
  ): Promise<DeadLetter | undefined>;
  /** The stored record of a message entry. */
  message(id: string): Promise<DeadMessage | undefined>;
}

/** What replaying a task needs from the task service. */
export interface TaskResubmitter {
  submit(request: TaskRequestDoc): Promise<{ record: { id: string } }>;
}

/** Audit trail for operator actions. */
/** Records a change in the transaction that makes it (the service's AuditTrail). */
export type DeadLetterAudit = Pick<AuditRecorder, 'recordChange'>;

/** Replaying the same entry again derives the same task id, so a retried call runs it once. */
export const replayTaskId = (entryId: string) => `replay-${entryId}`;

/**
 * Operator actions on the dead-letter queue: read, resolve, replay. Each entry is closed exactly
 * once; a replayed task keeps its original request (tenant, project, residency, SLA) and gets a
 * new id derived from the entry, so its own failure would land here as a new entry.
 */
export class DeadLetterService {
  constructor(
    private readonly store: DeadLetterStore,
    private readonly tasks: TaskResubmitter,
    private readonly audit: DeadLetterAudit,
  ) {}

  list(options: {
    resolved?: boolean | undefined;
    source?: DeadLetterSource | undefined;
    limit: number;
    offset: number;
  }) {
    return this.store.list(options);
  }

  async get(id: string): Promise<DeadLetter> {
    const entry = await this.store.get(id);
    if (!entry) throw AionError.notFound('dead letter', id);
    return entry;
  }

  async resolve(id: string, note: string | undefined): Promise<DeadLetter> {
    const entry = await this.open(id);
    const closed = await this.audit.recordChange(
      () =>
        this.store.close(entry.id, { by: requireTenant().subject, resolution: 'resolved', note }),
      (done) =>
        done && {
          action: 'dlq.resolve',
          resourceId: id,
          details: { source: entry.source, ref: entry.ref },
        },
    );
    if (!closed) throw this.alreadyClosed(await this.get(id));
    return closed;
  }

  async replay(id: string, note: string | undefined): Promise<DeadLetter> {
    const entry = await this.open(id);
    const by = requireTenant().subject;
    // The replayed task is submitted first, on its own: its id derives from the entry, so a
    // retried replay finds it instead of running it twice. Closing the entry and its audit
    // record then commit together.
    let close: () => Promise<DeadLetter | undefined>;
    if (entry.source === 'task') {
      const request = entry.payload as unknown as TaskRequestDoc;
      const { record } = await this.tasks.submit({ ...request, task_id: replayTaskId(entry.id) });
      close = () =>
        this.store.close(entry.id, { by, resolution: 'replayed', note, replayRef: record.id });
    } else {
      const message = await this.store.message(entry.id);
      if (!message) throw AionError.conflict(`dead letter ${id} holds no record to republish`);
      close = () =>
        this.store.close(entry.id, {
          by,
          resolution: 'replayed',
          note,
          replayRef: message.eventId,
          republish: true,
        });
    }
    const closed = await this.audit.recordChange(close, (done) =>
      done
        ? {
            action: 'dlq.replay',
            resourceId: id,
            details: { source: entry.source, ref: entry.ref, replay_ref: done.replayRef ?? '' },
          }
        : undefined,
    );
    if (!closed) throw this.alreadyClosed(await this.get(id));
    return closed;
  }

  private async open(id: string): Promise<DeadLetter> {
    const entry = await this.get(id);
    if (entry.resolvedAt) throw this.alreadyClosed(entry);
    return entry;
  }

  private alreadyClosed(entry: DeadLetter): AionError {
    return new AionError(
      'state.conflict',
      `dead letter ${entry.id} was already ${entry.resolution ?? 'closed'} by ${entry.resolvedBy ?? 'someone'} at ${entry.resolvedAt?.toISOString() ?? 'an earlier time'}`,
    );
  }
}
