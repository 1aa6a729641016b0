import { createHash } from 'node:crypto';
import { and, asc, getTableName, inArray, isNotNull, isNull, lt, sql } from 'drizzle-orm';
import {
  bigserial,
  customType,
  index,
  integer,
  pgPolicy,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';
import {
  afterCommit,
  asBackgroundWork,
  inTransaction,
  outsideUnitOfWork,
  rowsOf,
  withConnection,
  type Db,
  type DbOrTx,
} from '@aion/db';
import type { Logger } from '@aion/telemetry';
import type { EventBus } from './bus';
import type { EventType } from './catalog';
import { createEvent, type NewEvent, type OutgoingMessage } from './envelope';
import { CommittedPublisher, type CommittedEvent } from './outbox-publisher';

/** Lets the relay's transaction see every tenant's outbox rows; ends with the transaction. */
const RELAY_VIEW = sql`select set_config('aion.outbox_relay', 'on', true)`;

/** PostgreSQL bytea as Uint8Array (event records are protobuf bytes). */
export const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (value) => new Uint8Array(value),
});

/**
 * Rows are tenant-scoped (a tenant transaction writes them, RLS checks the tenant); the relay
 * reads across tenants by switching `aion.outbox_relay` on inside its own transaction.
 */
const outboxVisible = sql`tenant_id = current_setting('aion.tenant_id', true) or current_setting('aion.outbox_relay', true) = 'on'`;

/** A service's outbox table, `<prefix>_outbox`; declare it in the service's Drizzle schema. */
export function outboxTable<P extends string>(prefix: P) {
  const name = `${prefix}_outbox` as const;
  return pgTable(
    name,
    {
      seq: bigserial('seq', { mode: 'number' }).primaryKey(),
      eventId: uuid('event_id').notNull().unique(),
      tenantId: text('tenant_id').notNull(),
      topic: text('topic').notNull(),
      key: text('key').notNull(),
      eventType: text('event_type').notNull(),
      value: bytea('value').notNull(),
      headers: text('headers').notNull(),
      createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
      publishedAt: timestamp('published_at', { withTimezone: true }),
      attempts: integer('attempts').notNull().default(0),
    },
    (t) => [
      index(`${name}_unpublished_idx`)
        .on(t.seq)
        .where(sql`published_at is null`),
      pgPolicy(`${name}_tenant_or_relay`, {
        as: 'permissive',
        for: 'all',
        using: outboxVisible,
        withCheck: outboxVisible,
      }),
    ],
  ).enableRLS();
}

/** `<prefix>_processed_events`: which events each consumer group has handled (for `processOnce`). */
export function processedEventsTable<P extends string>(prefix: P) {
  return pgTable(
    `${prefix}_processed_events`,
    {
      consumerGroup: text('consumer_group').notNull(),
      eventId: text('event_id').notNull(),
      processedAt: timestamp('processed_at', { withTimezone: true }).notNull().defaultNow(),
    },
    (t) => [primaryKey({ columns: [t.consumerGroup, t.eventId] })],
  );
}

export type OutboxTable = ReturnType<typeof outboxTable<string>>;

export type BuiltEvent = ReturnType<typeof createEvent>;

/**
 * Writes events into the outbox inside the caller's transaction, so an event exists exactly when
 * the state change it describes was committed.
 */
/** Hears of rows a writer put in the outbox, inside the writing transaction (the relay does). */
export interface OutboxListener {
  /** `tx` undefined: the rows' statement has committed already. */
  written(tx: DbOrTx | undefined, events: CommittedEvent[]): void;
  /** Published rows a statement may mark along with its own work (see `OutboxWriter.takeMarks`). */
  takeMarks?(): PublishedMarks | undefined;
  /** Marks `takeMarks` handed out that their statement did not apply. */
  giveBackMarks?(marks: PublishedMarks): void;
}

/** Published outbox rows to mark: by event id; `remove` deletes them (nothing is kept). */
export interface PublishedMarks {
  ids: string[];
  remove: boolean;
}

export class OutboxWriter {
  constructor(
    private readonly table: OutboxTable,
    private readonly source: string,
    private readonly listener?: OutboxListener,
  ) {}

  async add(tx: DbOrTx, ...events: Omit<NewEvent<EventType>, 'source'>[]): Promise<string[]> {
    const built = this.build(...events);
    await this.insert(tx, built);
    return built.map((b) => b.envelope.id);
  }

  /**
   * Builds events in the current async context (tenant, request id, trace) without writing them,
   * so a group commit can build each write's events in its caller's context and insert them all
   * with one statement.
   */
  build(...events: Omit<NewEvent<EventType>, 'source'>[]): BuiltEvent[] {
    return events.map((e) => createEvent({ ...e, source: this.source } as NewEvent<EventType>));
  }

  /**
   * One statement for any number of events. The rows travel as one JSON parameter (protobuf
   * bytes in base64) because building a multi-row insert through the query builder cost more
   * CPU than the database spent on it; `jsonb_to_recordset` keeps their order, so `seq` does.
   */
  async insert(tx: DbOrTx, built: readonly BuiltEvent[]): Promise<void> {
    if (built.length === 0) return;
    await tx.execute(sql`
      insert into ${this.table} (event_id, tenant_id, topic, key, event_type, value, headers)
      select v.event_id, v.tenant_id, v.topic, v.key, v.event_type, decode(v.value, 'base64'), v.headers
      from jsonb_to_recordset(${JSON.stringify(this.rowsOf(built))}::jsonb) as v(
        event_id uuid, tenant_id text, topic text, key text, event_type text, value text, headers text)`);
    this.inserted(tx, built);
  }

  /**
   * The outbox rows of `built` as JSON objects (value in base64), in order, for a statement that
   * inserts them itself (a PL/pgSQL function doing a whole write); tell `inserted` what it did.
   */
  rowsOf(built: readonly BuiltEvent[]) {
    return built.map(({ envelope, message }) => ({
      event_id: envelope.id,
      tenant_id: envelope.tenantId,
      topic: message.topic,
      key: message.key,
      event_type: envelope.type,
      value: Buffer.from(message.value).toString('base64'),
      headers: JSON.stringify(message.headers),
    }));
  }

  /**
   * Rows this process published and has not marked yet, for a statement that marks them along
   * with its own work (a PL/pgSQL task write): one round trip fewer than marking them apart.
   * Undefined when there are none. If that statement fails, hand them back (`giveBackMarks`).
   */
  takeMarks(): PublishedMarks | undefined {
    return this.listener?.takeMarks?.();
  }

  giveBackMarks(marks: PublishedMarks | undefined): void {
    if (marks) this.listener?.giveBackMarks?.(marks);
  }

  /**
   * Rows of `built` were inserted: inside `tx` (published once it commits), or, with `tx`
   * undefined, by a statement that has committed already (published now).
   */
  inserted(tx: DbOrTx | undefined, built: readonly BuiltEvent[]): void {
    if (built.length === 0) return;
    this.listener?.written(
      tx,
      built.map(({ envelope, message }) => ({ eventId: envelope.id, message })),
    );
  }

  /**
   * Re-enqueues a record exactly as it was produced (dead-letter replay). It keeps its event id,
   * so consumers that did handle it skip it; a record already waiting in the outbox is not added
   * twice.
   */
  async addRecord(
    tx: DbOrTx,
    record: { tenantId: string; eventId: string; eventType: string; message: OutgoingMessage },
  ): Promise<void> {
    await tx
      .insert(this.table)
      .values({
        eventId: record.eventId,
        tenantId: record.tenantId,
        topic: record.message.topic,
        key: record.message.key,
        eventType: record.eventType,
        value: record.message.value,
        headers: JSON.stringify(record.message.headers),
      })
      .onConflictDoNothing({ target: this.table.eventId });
    this.listener?.written(tx, [{ eventId: record.eventId, message: record.message }]);
  }
}

export interface RelayOptions {
  db: Db;
  table: OutboxTable;
  bus: EventBus;
  batchSize?: number;
  /**
   * How often to sweep for rows nobody published or nudged about (default 2 s): a safety net
   * since rows go out right after their commit; each look costs the database a transaction.
   */
  pollIntervalMs?: number;
  /**
   * Wait after a nudge before publishing, to batch concurrent commits (default 20 ms): under
   * load one relay transaction then carries the events of dozens of commits instead of a few.
   */
  nudgeDelayMs?: number;
  /**
   * Published rows older than this are deleted (default 24 h). 0 deletes them as they are
   * published: the embedded database has no autovacuum running beside it, and marking a row
   * (a non-HOT update: it leaves the unpublished index) doubled what its vacuum had to do.
   */
  retentionMs?: number;
  /**
   * How long published rows wait to be marked by a statement of the relay's own (default 200 ms),
   * unless a writer's statement carries the marks first (`OutboxWriter.takeMarks`).
   */
  markAfterMs?: number;
  /**
   * A poll takes only rows older than this (default 5 s): younger ones are being published by
   * the process that committed them. A nudge, a flush, or a relay that took over take them all.
   */
  sweepAfterMs?: number;
  logger?: Logger;
  /** Test hook: runs after the publish, before the rows are marked (to simulate a crash there). */
  afterPublish?: (messages: OutgoingMessage[]) => void | Promise<void>;
}

/**
 * Publishes committed outbox rows and marks them. Rows its own process commits it publishes
 * right after their commit (CommittedPublisher: no relay transaction, no wait); it sweeps up the
 * rest, which a crash or a broker outage left behind. Several relays may run (replicas): a
 * session advisory lock lets one sweep at a time, which also keeps each key's events in order;
 * the others find the lock taken and wait for their next turn. A process that dies after
 * publishing but before marking leaves the rows unmarked, so they are published again: delivery
 * is at least once, and consumers dedupe by event id.
 */
export class OutboxRelay implements OutboxListener {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inFlight: Promise<number> | undefined;
  private wakeRequested = false;
  private nudged = false;
  /** The last batch found another relay publishing (it may have missed rows committed since). */
  private lockWasBusy = false;
  private lastCleanup = 0;
  private readonly lockKey: number;
  private readonly tableName: string;
  private readonly publisher: CommittedPublisher;

  constructor(private readonly options: RelayOptions) {
    this.tableName = getTableName(options.table);
    const t = options.table;
    this.publisher = new CommittedPublisher({
      publish: (messages) => options.bus.publish(messages),
      markPublished: (eventIds) =>
        inTransaction(options.db, [RELAY_VIEW], async (tx) => {
          if (options.retentionMs === 0) await tx.delete(t).where(inArray(t.eventId, eventIds));
          else
            await tx
              .update(t)
              .set({ publishedAt: new Date(), attempts: sql`${t.attempts} + 1` })
              .where(inArray(t.eventId, eventIds));
        }),
      ...(options.afterPublish && { afterPublish: options.afterPublish }),
      onHandOver: () => this.nudge(),
      ...(options.markAfterMs !== undefined && { markAfterMs: options.markAfterMs }),
      ...(options.batchSize && { batchSize: options.batchSize }),
      ...(options.logger && { logger: options.logger }),
    });
    this.lockKey = createHash('sha256')
      .update(`aion-outbox:${this.tableName}`)
      .digest()
      .readInt32BE(0);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    // The first look takes everything: rows committed before this process started are nobody's.
    this.nudged = true;
    this.schedule(0);
  }

  /**
   * A writer put rows in the outbox inside `tx`: they are published once it commits (at once
   * when `tx` is undefined: their statement committed by itself). A transaction that cannot
   * report its commit (a savepoint) nudges the relay instead.
   */
  written(tx: DbOrTx | undefined, events: CommittedEvent[]): void {
    if (!this.running) return;
    if (!tx) this.publisher.committed(events);
    else if (!afterCommit(tx, () => this.publisher.committed(events))) this.nudge();
  }

  takeMarks(): PublishedMarks | undefined {
    if (!this.running) return undefined;
    const ids = this.publisher.takeUnmarked();
    return ids.length > 0 ? { ids, remove: this.options.retentionMs === 0 } : undefined;
  }

  giveBackMarks(marks: PublishedMarks): void {
    this.publisher.giveBack(marks.ids);
  }

  /**
   * Publish soon instead of at the next poll. A few milliseconds' wait gathers the events of
   * transactions committing together into one batch.
   */
  nudge(): void {
    if (!this.running) return;
    if (this.inFlight) {
      this.wakeRequested = true;
      return;
    }
    if (!this.nudged) {
      this.nudged = true;
      this.schedule(this.options.nudgeDelayMs ?? 20);
    }
  }

  /**
   * Publishes one batch; returns how many rows it published (0 if idle or another relay is
   * active). Relays of one table take turns under a session advisory lock held across the
   * publish, so rows go out in `seq` order (per-key order included); the rows are read and then
   * marked in two short transactions, and the broker is waited for between them, in none: a
   * broker that retries for half a minute holds a connection and the lock, never a transaction.
   * The lock ends with its connection, so a relay that dies lets the next one take over.
   */
  publishBatch(options: { olderThanMs?: number } = {}): Promise<number> {
    const t = this.options.table;
    const young = options.olderThanMs
      ? sql`${t.createdAt} < now() - make_interval(secs => ${options.olderThanMs / 1000})`
      : undefined;
    return withConnection(this.options.db, async (connection) => {
      // The relay's cross-tenant view is switched on in the same round trip as the lock; it ends
      // with the transaction, the lock does not.
      const rows = await connection.transaction([], async (tx) => {
        const [lock] = rowsOf<{ locked: boolean }>(
          await tx.execute(
            sql`select pg_try_advisory_lock(${this.lockKey}) as locked, set_config('aion.outbox_relay', 'on', true)`,
          ),
        );
        if (!lock?.locked) return undefined;
        return tx
          .select()
          .from(t)
          .where(and(isNull(t.publishedAt), young))
          .orderBy(asc(t.seq))
          .limit(this.options.batchSize ?? 200);
      });
      if (!rows) {
        this.lockWasBusy = true;
        return 0;
      }
      try {
        if (rows.length === 0) return 0;
        const messages: OutgoingMessage[] = rows.map((r) => ({
          topic: r.topic,
          key: r.key,
          value: r.value,
          headers: JSON.parse(r.headers) as Record<string, string>,
        }));
        await this.options.bus.publish(messages);
        await this.options.afterPublish?.(messages);
        await connection.transaction([RELAY_VIEW], (tx) =>
          tx
            .update(t)
            .set({ publishedAt: new Date(), attempts: sql`${t.attempts} + 1` })
            .where(
              inArray(
                t.seq,
                rows.map((r) => r.seq),
              ),
            ),
        );
        return rows.length;
      } finally {
        // A failed unlock fails the batch, and withConnection then discards the connection.
        await connection.execute(sql`select pg_advisory_unlock(${this.lockKey})`);
      }
    });
  }

  /** Publishes until the outbox is empty or the deadline passes (graceful shutdown). */
  async flush(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await this.inFlight?.catch(() => 0);
    while (Date.now() < deadline) {
      if ((await this.publishBatch()) === 0 && (await this.pendingCount()) === 0) return;
    }
  }

  async pendingCount(): Promise<number> {
    return inTransaction(this.options.db, [RELAY_VIEW], async (tx) => {
      const [row] = await tx
        .select({ n: sql<number>`count(*)::int` })
        .from(this.options.table)
        .where(isNull(this.options.table.publishedAt));
      return row?.n ?? 0;
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.publisher.stop();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight?.catch(() => 0);
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    // A nudge comes from inside a writer's transaction: the relay's own must not inherit it.
    // Its sweeps are the process's own work, not the request's that nudged it (libs/db counts).
    this.timer = outsideUnitOfWork(() =>
      setTimeout(() => void asBackgroundWork(() => this.tick()), delayMs),
    );
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    let published = 0;
    let failed = false;
    const wasNudged = this.nudged;
    this.wakeRequested = false;
    this.nudged = false;
    this.lockWasBusy = false;
    // A poll while rows are published after commit sweeps only what is old enough to be left.
    const everything = wasNudged || this.publisher.relayOnly;
    const announcements = this.publisher.announcements;
    try {
      this.inFlight = this.publishBatch(
        everything ? {} : { olderThanMs: this.options.sweepAfterMs ?? 5_000 },
      );
      published = await this.inFlight;
      if (everything && published === 0 && !this.lockWasBusy) this.publisher.resume(announcements);
      await this.cleanupIfDue();
    } catch (err) {
      failed = true;
      this.options.logger?.warn('outbox relay could not publish; will retry', {
        table: this.tableName,
        reason: err instanceof Error ? err.message : String(err),
      });
    } finally {
      this.inFlight = undefined;
    }
    if (!this.running) return;
    const poll = this.options.pollIntervalMs ?? 2_000;
    // A full batch suggests more is waiting. Commits made while this one was in flight, or
    // announced while another relay held the lock, are gathered like any nudge. Otherwise nothing
    // is known to wait (a batch that was not full emptied the outbox), so the next look is the
    // poll, and a failure backs off from it.
    const full = published >= (this.options.batchSize ?? 200);
    this.schedule(
      failed
        ? poll * 5
        : full
          ? 0
          : this.wakeRequested || (wasNudged && this.lockWasBusy)
            ? (this.options.nudgeDelayMs ?? 20)
            : poll,
    );
  }

  private async cleanupIfDue(): Promise<void> {
    if (Date.now() - this.lastCleanup < 60_000) return;
    this.lastCleanup = Date.now();
    const cutoff = new Date(Date.now() - (this.options.retentionMs ?? 24 * 3600_000));
    const t = this.options.table;
    await inTransaction(this.options.db, [RELAY_VIEW], async (tx) => {
      await tx.delete(t).where(and(isNotNull(t.publishedAt), lt(t.publishedAt, cutoff)));
    });
  }
}
