import { and, asc, count, desc, eq, gt, sql } from 'drizzle-orm';
import { TaskStatus as ProtoTaskStatus } from '@aion/contracts';
import { withTenant, type Db, type Tx } from '@aion/db';
import type { OutboxWriter } from '@aion/events';
import { requireTenant } from '@aion/tenancy';
import type {
  StreamEvent,
  StreamKind,
  TaskRecord,
  TaskRepository,
  TransitionPatch,
} from '../../core/ports';
import type { TaskStatus } from '../../core/task-state';
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
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** Tasks in PostgreSQL (RLS by tenant); lifecycle and usage events go out through the outbox. */
export class PostgresTaskRepository implements TaskRepository {
  constructor(
    private readonly db: Db,
    private readonly outbox: OutboxWriter,
  ) {}

  private tx<T>(fn: (tx: Tx, tenantId: string) => Promise<T>): Promise<T> {
    const { tenantId } = requireTenant();
    return withTenant(this.db, tenantId, (tx) => fn(tx, tenantId));
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
    stream?: { kind: StreamKind; data: unknown },
  ): Promise<TaskRecord | undefined> {
    return this.tx(async (tx, tenantId) => {
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
      const events: Parameters<OutboxWriter['add']>[1][] = [
        {
          type: 'task.state_changed',
          key: id,
          payload: {
            taskId: id,
            fromStatus: PROTO_STATUS[from],
            toStatus: PROTO_STATUS[to],
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
        },
      ];
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
      if (stream) await this.append(tx, tenantId, id, stream.kind, stream.data);
      return record;
    });
  }

  async appendStream(id: string, kind: StreamKind, data: unknown): Promise<number> {
    return this.tx((tx, tenantId) => this.append(tx, tenantId, id, kind, data));
  }

  /** Next sequence under a per-task advisory lock, so concurrent appends never collide. */
  private async append(
    tx: Tx,
    tenantId: string,
    id: string,
    kind: StreamKind,
    data: unknown,
  ): Promise<number> {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`${tenantId}/${id}`}))`);
    const [last] = await tx
      .select({ max: sql<number | null>`max(${taskEvents.sequence})` })
      .from(taskEvents)
      .where(eq(taskEvents.taskId, id));
    const sequence = Number(last?.max ?? 0) + 1;
    await tx
      .insert(taskEvents)
      .values({ tenantId, taskId: id, sequence, kind, data: data as object });
    return sequence;
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
}
