import { and, count, desc, eq, isNotNull, isNull, sql } from 'drizzle-orm';
import { type Db, type DbOrTx, TenantRepository } from '@aion/db';
import type { OutboxWriter } from '@aion/events';
import type {
  DeadLetter,
  DeadLetterSource,
  DeadLetterStore,
  DeadMessage,
  NewDeadMessage,
} from '../../core/dead-letters';
import { deadLetters } from './schema';

type Row = typeof deadLetters.$inferSelect;

const toEntry = (row: Row): DeadLetter => ({
  id: row.id,
  source: row.source as DeadLetterSource,
  ref: row.ref,
  subject: row.subject,
  errorCode: row.errorCode,
  errorMessage: row.errorMessage,
  retryCount: row.retryCount,
  payload: row.payload as Record<string, unknown>,
  failedAt: row.failedAt,
  resolvedAt: row.resolvedAt ?? undefined,
  resolvedBy: row.resolvedBy ?? undefined,
  resolution: (row.resolution as DeadLetter['resolution']) ?? undefined,
  note: row.note ?? undefined,
  replayRef: row.replayRef ?? undefined,
});

/** Inside a task's final transition: the task and its dead letter are committed together. */
export async function recordDeadTask(
  tx: DbOrTx,
  tenantId: string,
  entry: {
    taskId: string;
    intent: string;
    errorCode: string;
    errorMessage: string;
    retryCount: number;
    request: unknown;
  },
): Promise<void> {
  await tx
    .insert(deadLetters)
    .values({
      tenantId,
      source: 'task',
      ref: entry.taskId,
      subject: entry.intent,
      errorCode: entry.errorCode,
      errorMessage: entry.errorMessage.slice(0, 4000),
      retryCount: entry.retryCount,
      payload: entry.request,
    })
    .onConflictDoNothing();
}

/** The dead-letter queue in PostgreSQL (RLS by tenant). */
export class PostgresDeadLetters extends TenantRepository implements DeadLetterStore {
  constructor(
    db: Db,
    private readonly outbox: OutboxWriter,
  ) {
    super(db);
  }

  async recordMessage(entry: NewDeadMessage): Promise<void> {
    await this.tx(async (tx, tenantId) => {
      await tx
        .insert(deadLetters)
        .values({
          tenantId,
          source: 'message',
          ref: entry.ref,
          subject: entry.message.topic,
          errorCode: 'event.handler_failed',
          errorMessage: entry.errorMessage.slice(0, 4000),
          retryCount: entry.retryCount,
          payload: entry.payload,
          messageKey: entry.message.key,
          messageValue: entry.message.value,
          messageHeaders: {
            ...entry.message.headers,
            'aion-event-id': entry.message.eventId,
            'aion-event-type': entry.message.eventType,
          },
          failedAt: entry.failedAt,
        })
        .onConflictDoNothing();
    });
  }

  async list(options: {
    resolved?: boolean | undefined;
    source?: DeadLetterSource | undefined;
    limit: number;
    offset: number;
  }): Promise<{ items: DeadLetter[]; total: number }> {
    return this.tx(async (tx) => {
      const where = and(
        options.resolved === undefined
          ? undefined
          : options.resolved
            ? isNotNull(deadLetters.resolvedAt)
            : isNull(deadLetters.resolvedAt),
        options.source ? eq(deadLetters.source, options.source) : undefined,
      );
      const rows = await tx
        .select()
        .from(deadLetters)
        .where(where)
        .orderBy(desc(deadLetters.failedAt), desc(deadLetters.id))
        .limit(options.limit)
        .offset(options.offset);
      const [total] = await tx.select({ n: count() }).from(deadLetters).where(where);
      return { items: rows.map(toEntry), total: total?.n ?? 0 };
    });
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    return this.tx(async (tx) => {
      const [row] = await tx.select().from(deadLetters).where(eq(deadLetters.id, id));
      return row ? toEntry(row) : undefined;
    });
  }

  async message(id: string): Promise<DeadMessage | undefined> {
    return this.tx(async (tx) => {
      const [row] = await tx.select().from(deadLetters).where(eq(deadLetters.id, id));
      if (!row || row.source !== 'message' || !row.messageValue) return undefined;
      const headers = (row.messageHeaders ?? {}) as Record<string, string>;
      return {
        topic: row.subject,
        key: row.messageKey ?? '',
        value: row.messageValue,
        headers,
        eventId: headers['aion-event-id'] ?? '',
        eventType: headers['aion-event-type'] ?? '',
      };
    });
  }

  async close(
    id: string,
    closing: {
      by: string;
      resolution: 'resolved' | 'replayed';
      note?: string | undefined;
      replayRef?: string | undefined;
      republish?: boolean;
    },
  ): Promise<DeadLetter | undefined> {
    return this.tx(async (tx, tenantId) => {
      // Only an open entry closes, so two operators acting at once cannot both replay it.
      const [row] = await tx
        .update(deadLetters)
        .set({
          resolvedAt: sql`now()`,
          resolvedBy: closing.by,
          resolution: closing.resolution,
          note: closing.note ?? null,
          replayRef: closing.replayRef ?? null,
        })
        .where(and(eq(deadLetters.id, id), isNull(deadLetters.resolvedAt)))
        .returning();
      if (!row) return undefined;
      if (closing.republish && row.messageValue) {
        const headers = (row.messageHeaders ?? {}) as Record<string, string>;
        await this.outbox.addRecord(tx, {
          tenantId,
          eventId: headers['aion-event-id'] ?? '',
          eventType: headers['aion-event-type'] ?? '',
          message: {
            topic: row.subject,
            key: row.messageKey ?? '',
            value: row.messageValue,
            headers,
          },
        });
      }
      return toEntry(row);
    });
  }
}
