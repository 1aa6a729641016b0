import { and, asc, count, desc, eq, gt, isNull, sql } from 'drizzle-orm';
import { DataClassification, TaskStatus as ProtoTaskStatus } from '@aion/contracts';
import { withoutTenant, type Db, type Tx, TenantRepository } from '@aion/db';
import type { OutboxWriter } from '@aion/events';
import { requireTenant } from '@aion/tenancy';
import type {
  NewStreamEvent,
  StreamEvent,
  StreamKind,
  TaskRecord,
  TaskRepository,
  TransitionPatch,
} from '../../core/ports';
import type { Classification } from '../../core/residency';
import { assertTransition, type TaskStatus } from '../../core/task-state';
import { recordDeadTask } from './dead-letter-repository';
import { taskEvents, tasks } from './schema';

type Row = typeof tasks.$inferSelect;

const PROTO_STATUS: Record<TaskStatus, ProtoTaskStatus> = {
  QUEUED: ProtoTaskStatus.QUEUED,
  ROUTED: ProtoTaskStatus.ROUTED,
  RUNNING: ProtoTaskStatus.RUNNING,
  OK: ProtoTaskStatus.OK,
  ERROR: ProtoTaskStatus.ERROR,
  TIMEOUT: ProtoTaskStatus.TIMEOUT,
  CANCELED: ProtoTaskStatus.CANCELED,
};

const PROTO_CLASSIFICATION: Record<Classification, DataClassification> = {
  none: DataClassification.NONE,
  pii: DataClassification.PII,
  financial: DataClassification.FINANCIAL,
  health: DataClassification.HEALTH,
  biometric: DataClassification.BIOMETRIC,
};

function toRecord(row: Row): TaskRecord {
  return {
    tenantId: row.tenantId,
    id: row.id,
    projectId: row.projectId,
    subject: row.subject,
    intent: row.intent,
    status: row.status as TaskStatus,
    request: row.request as TaskRecord['request'],
    requestHash: row.requestHash,
    engine: row.engineRoute
      ? {
          route: row.engineRoute,
          chosenBy: row.chosenBy as 'ai-router' | 'policy-override',
          reason: row.reason ?? '',
        }
      : undefined,
    result: row.result ?? undefined,
    error: (row.error as TaskRecord['error']) ?? undefined,
    usage:
      row.latencyMs === null
        ? undefined
        : {
            latencyMs: row.latencyMs,
            inputTokens: row.inputTokens ?? 0,
            outputTokens: row.outputTokens ?? 0,
            costUsd: row.costUsd ?? 0,
          },
    sovereignty: (row.sovereignty as TaskRecord['sovereignty']) ?? undefined,
    receipt:
      row.receiptJson && row.receiptJws
        ? { json: row.receiptJson, jws: row.receiptJws }
        : undefined,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** Tasks in PostgreSQL (RLS by tenant); lifecycle and usage events go out through the outbox. */
export class PostgresTaskRepository extends TenantRepository implements TaskRepository {
  private readonly listeners: Parameters<TaskRepository['onAppended']>[0][] = [];

  constructor(
    db: Db,
    private readonly outbox: OutboxWriter,
  ) {
    super(db);
  }

  onAppended(listener: Parameters<TaskRepository['onAppended']>[0]): void {
    this.listeners.push(listener);
  }

  private announce(tenantId: string, id: string, event: StreamEvent, record?: TaskRecord): void {
    for (const listener of this.listeners) listener(tenantId, id, event, record);
  }

  async create(record: TaskRecord): Promise<{ record: TaskRecord; created: boolean }> {
    return this.tx(async (tx, tenantId) => {
      const inserted = await tx
        .insert(tasks)
        .values({
          tenantId,
          id: record.id,
          projectId: record.projectId,
          subject: record.subject,
          intent: record.intent,
          status: 'QUEUED',
          request: record.request,
          requestHash: record.requestHash,
        })
        .onConflictDoNothing()
        .returning();
      if (inserted[0]) {
        await this.outbox.add(tx, {
          type: 'task.state_changed',
          key: record.id,
          payload: {
            taskId: record.id,
            fromStatus: 0,
            toStatus: PROTO_STATUS.QUEUED,
            intent: record.intent,
          },
        });
        return { record: toRecord(inserted[0]), created: true };
      }
      const [existing] = await tx.select().from(tasks).where(eq(tasks.id, record.id));
      return { record: toRecord(existing!), created: false };
    });
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    return this.tx(async (tx) => {
      const [row] = await tx.select().from(tasks).where(eq(tasks.id, id));
      return row ? toRecord(row) : undefined;
    });
  }

  async list(options: {
    limit: number;
    offset: number;
    status?: TaskStatus | undefined;
    subject?: string | undefined;
  }): Promise<{ items: TaskRecord[]; total: number }> {
    return this.tx(async (tx) => {
      const where = and(
        options.status ? eq(tasks.status, options.status) : undefined,
        options.subject ? eq(tasks.subject, options.subject) : undefined,
      );
      const rows = await tx
        .select()
        .from(tasks)
        .where(where)
        .orderBy(desc(tasks.createdAt), desc(tasks.id))
        .limit(options.limit)
        .offset(options.offset);
      const [total] = await tx.select({ n: count() }).from(tasks).where(where);
      return { items: rows.map(toRecord), total: total?.n ?? 0 };
    });
  }

  async transition(
    id: string,
    from: TaskStatus,
    to: TaskStatus,
    patch: TransitionPatch,
    stream?: NewStreamEvent | NewStreamEvent[],
  ): Promise<TaskRecord | undefined> {
    // The state machine refuses illegal moves; staying in a state (a fallback to another engine
    // while RUNNING) is an update, not a move.
    const path = [from, ...(patch.via ?? []), to];
    for (let i = 1; i < path.length; i++)
      if (path[i - 1] !== path[i]) assertTransition(id, path[i - 1]!, path[i]!);
    let appended: StreamEvent[] = [];
    const { tenantId } = requireTenant();
    const record = await this.tx(async (tx) => {
      const [row] = await tx
        .update(tasks)
        .set({
          status: to,
          updatedAt: new Date(),
          ...(patch.engine
            ? {
                engineRoute: patch.engine.route,
                chosenBy: patch.engine.chosenBy,
                reason: patch.engine.reason,
              }
            : {}),
          ...(patch.result !== undefined ? { result: patch.result } : {}),
          ...(patch.sovereignty ? { sovereignty: patch.sovereignty } : {}),
          ...(patch.error ? { error: patch.error } : {}),
          ...(patch.usage
            ? {
                latencyMs: patch.usage.latencyMs,
                inputTokens: patch.usage.inputTokens,
                outputTokens: patch.usage.outputTokens,
                costUsd: patch.usage.costUsd,
              }
            : {}),
        })
        .where(and(eq(tasks.id, id), eq(tasks.status, from)))
        .returning();
      if (!row) return undefined;
      const record = toRecord(row);
      // One lifecycle event per step, so consumers see every state the task passed through.
      const path = [from, ...(patch.via ?? []), to];
      const events: Parameters<OutboxWriter['add']>[1][] = path.slice(1).map((step, i) => ({
        type: 'task.state_changed' as const,
        key: id,
        payload: {
          taskId: id,
          fromStatus: PROTO_STATUS[path[i]!],
          toStatus: PROTO_STATUS[step],
          intent: record.intent,
          ...(record.engine
            ? {
                engine: {
                  route: record.engine.route,
                  chosenBy: record.engine.chosenBy === 'policy-override' ? 2 : 1,
                  reason: record.engine.reason,
                },
              }
            : {}),
          ...(record.error ? { error: record.error } : {}),
        },
      }));
      if (to === 'OK' && record.usage) {
        events.push({
          type: 'usage.recorded',
          key: id,
          payload: {
            taskId: id,
            projectId: record.projectId,
            engine: record.engine?.route ?? '',
            usage: {
              latencyMs: record.usage.latencyMs,
              inputTokens: record.usage.inputTokens,
              outputTokens: record.usage.outputTokens,
              costUsd: record.usage.costUsd,
            },
          },
        });
      }
      if (patch.violation)
        events.push({
          type: 'residency.violation',
          key: id,
          payload: {
            taskId: id,
            dataContext: {
              jurisdiction: record.request.data_context.jurisdiction,
              classification: PROTO_CLASSIFICATION[record.request.data_context.classification],
            },
            attemptedJurisdictions: patch.violation.attempted,
            decidedByRule: patch.violation.rule,
            reason: patch.violation.reason,
          },
        });
      await this.outbox.add(tx, ...events);
      if (patch.deadLetter && record.error)
        await recordDeadTask(tx, tenantId, {
          taskId: id,
          intent: record.intent,
          errorCode: record.error.code,
          errorMessage: record.error.message,
          retryCount: patch.deadLetter.attempts,
          request: record.request,
        });
      if (stream)
        appended = await this.append(tx, tenantId, id, Array.isArray(stream) ? stream : [stream]);
      return record;
    });
    if (record) for (const event of appended) this.announce(tenantId, id, event, record);
    return record;
  }

  async appendStream(id: string, events: NewStreamEvent[]): Promise<void> {
    if (events.length === 0) return;
    const { tenantId } = requireTenant();
    const appended = await this.tx((tx) => this.append(tx, tenantId, id, events));
    for (const event of appended) this.announce(tenantId, id, event);
  }

  /** Next sequences under a per-task advisory lock, so concurrent appends never collide. */
  private async append(
    tx: Tx,
    tenantId: string,
    id: string,
    events: NewStreamEvent[],
  ): Promise<StreamEvent[]> {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`${tenantId}/${id}`}))`);
    const [last] = await tx
      .select({ max: sql<number | null>`max(${taskEvents.sequence})` })
      .from(taskEvents)
      .where(eq(taskEvents.taskId, id));
    const base = Number(last?.max ?? 0);
    const numbered = events.map((e, i) => ({ sequence: base + i + 1, kind: e.kind, data: e.data }));
    await tx.insert(taskEvents).values(
      numbered.map((e) => ({
        tenantId,
        taskId: id,
        sequence: e.sequence,
        kind: e.kind,
        data: e.data as object,
      })),
    );
    return numbered;
  }

  async claimStale(options: {
    queuedForMs: number;
    runningForMs: number;
    limit: number;
  }): Promise<TaskRecord[]> {
    return withoutTenant(this.db, async (tx) => {
      await tx.execute(sql`select set_config('aion.task_reaper', 'on', true)`);
      const stale = tx
        .select({ tenantId: tasks.tenantId, id: tasks.id })
        .from(tasks)
        .where(
          sql`(${tasks.status} = 'QUEUED' and ${tasks.updatedAt} < now() - make_interval(secs => ${options.queuedForMs / 1000}))
            or (${tasks.status} in ('ROUTED','RUNNING') and ${tasks.updatedAt} < now() - make_interval(secs => ${options.runningForMs / 1000}))`,
        )
        .orderBy(asc(tasks.updatedAt))
        .limit(options.limit)
        .for('update', { skipLocked: true });
      const rows = await tx
        .update(tasks)
        .set({ updatedAt: sql`now()` })
        .where(sql`(${tasks.tenantId}, ${tasks.id}) in (${stale})`)
        .returning();
      return rows.map(toRecord);
    });
  }

  async streamAfter(id: string, afterSequence: number): Promise<StreamEvent[]> {
    return this.tx(async (tx) => {
      const rows = await tx
        .select()
        .from(taskEvents)
        .where(and(eq(taskEvents.taskId, id), gt(taskEvents.sequence, afterSequence)))
        .orderBy(asc(taskEvents.sequence))
        .limit(500);
      return rows.map((r) => ({ sequence: r.sequence, kind: r.kind as StreamKind, data: r.data }));
    });
  }

  async saveReceipt(id: string, receipt: { json: string; jws: string }) {
    return this.tx(async (tx) => {
      // Two replicas may sign the same task at once: the first stored receipt is the receipt.
      await tx
        .update(tasks)
        .set({ receiptJson: receipt.json, receiptJws: receipt.jws })
        .where(and(eq(tasks.id, id), isNull(tasks.receiptJws)));
      const [row] = await tx
        .select({ json: tasks.receiptJson, jws: tasks.receiptJws })
        .from(tasks)
        .where(eq(tasks.id, id));
      return { json: row?.json ?? receipt.json, jws: row?.jws ?? receipt.jws };
    });
  }
}
