import { sql } from 'drizzle-orm';
import { rowsOf, type Db, type PendingWrite } from '@aion/db';
import { AionError } from '@aion/errors';
import type { BuiltEvent, OutboxWriter } from '@aion/events';
import type {
  NewStreamEvent,
  StreamEvent,
  StreamKind,
  TaskRecord,
  TaskStart,
  TransitionPatch,
} from '../../core/ports';
import type { TaskStatus } from '../../core/task-state';
import { remainingOf, type RemainingJson } from './budget-writes';
import { usageLedgerRows } from './usage-ledger';
import { fromRaw, toRecord, type RawTaskRow } from './task-rows';
import { PROTO_CLASSIFICATION, PROTO_STATUS } from '../../proto';

/** A write to one task; a group commit puts many of them (one per task) in one transaction. */
export type TaskWrite =
  | { kind: 'create'; record: TaskRecord; start?: TaskStart | undefined }
  | {
      kind: 'transition';
      /** The task as its writer last saw it: its events are built from it and the patch. */
      task: TaskRecord;
      from: TaskStatus;
      to: TaskStatus;
      patch: TransitionPatch;
      stream: NewStreamEvent[];
    }
  | { kind: 'append'; id: string; events: NewStreamEvent[] };

export interface TaskWriteResult {
  /** The task after the write; undefined when a transition found it no longer in `from`. */
  record?: TaskRecord | undefined;
  created?: boolean;
  appended: StreamEvent[];
  /** The transition's budget step was refused (its reservation): the task was left as it was. */
  refused?: AionError;
  /** The transition happened but its budget step could not apply (say, a released reservation). */
  budgetProblem?: AionError;
  /** What the write's budget step left for the task's project (the routing hint). */
  remainingBudget?: { projectId: string; usd: number | undefined };
}

export const taskIdOf = (write: TaskWrite) =>
  write.kind === 'create'
    ? write.record.id
    : write.kind === 'transition'
      ? write.task.id
      : write.id;

type OutboxEvent = Parameters<OutboxWriter['add']>[1];

/** One lifecycle event per step, so consumers see every state the task passed through. */
function transitionEvents(
  record: TaskRecord,
  from: TaskStatus,
  patch: TransitionPatch,
): OutboxEvent[] {
  const id = record.id;
  const path = [from, ...(patch.via ?? []), record.status];
  const events: OutboxEvent[] = path.slice(1).map((step, i) => ({
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
              name: record.engine.name,
              chosenBy: record.engine.chosenBy === 'policy-override' ? 2 : 1,
              reason: record.engine.reason,
            },
          }
        : {}),
      ...(record.error ? { error: record.error } : {}),
    },
  }));
  // The patch's usage names the model that served; the stored row does not keep it.
  const usage = patch.usage ?? record.usage;
  if (record.status === 'OK' && usage)
    events.push({
      type: 'usage.recorded',
      key: id,
      payload: {
        taskId: id,
        projectId: record.projectId,
        engine: record.engine?.name ?? '',
        usage: { ...usage },
      },
    });
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
  return events;
}

/** The task a transition leaves, as its writer expects it (the database's update, in memory). */
function expectedAfter(task: TaskRecord, to: TaskStatus, patch: TransitionPatch): TaskRecord {
  return {
    ...task,
    status: to,
    engine: patch.engine ?? task.engine,
    result: patch.result !== undefined ? patch.result : task.result,
    error: patch.error ?? task.error,
    sovereignty: patch.sovereignty ?? task.sovereignty,
    usage: patch.usage
      ? {
          latencyMs: patch.usage.latencyMs,
          inputTokens: patch.usage.inputTokens,
          outputTokens: patch.usage.outputTokens,
          costUsd: patch.usage.costUsd,
        }
      : task.usage,
  };
}

/** When an outbox row of the batch is written (see migration 0013's orc_write_tasks). */
type Guard = 'created' | 'started' | 'moved';

/** What orc_write_tasks answers. Task rows come without `request` (the writer has it). */
interface WriteAnswer {
  creates: { id: string; created: boolean; row: RawTaskRow; remaining?: RemainingJson | null }[];
  moves: {
    id: string;
    row?: RawTaskRow;
    refused?: { code: string; message: string };
    problem?: { code: string; message: string } | null;
    remaining?: RemainingJson | null;
  }[];
  appended: { task_id: string; sequence: number; kind: StreamKind; data: unknown }[];
  events: string[];
}

/**
 * Writes a batch of task writes (at most one per task), of any tenants, as one statement and one
 * round trip: each tenant's part travels as one JSON document to migration 0013's orc_write_tasks
 * (through orc_write_task_batches), which sets the tenant, inserts new tasks with their
 * reservations, applies transitions with their budget steps, records dead letters, numbers stream
 * events and writes the ledger and outbox rows; it also marks the outbox rows published since the
 * last write. The statement is its own transaction.
 */
export async function writeTaskBatch(
  db: Db,
  writes: PendingWrite<TaskWrite>[],
  outbox: OutboxWriter,
  /** Recorded on every task the batch creates or moves: the replica running it. */
  replicaId: string | null = null,
): Promise<TaskWriteResult[]> {
  // Tenants in one order: concurrent statements then lock in one order (no deadlock).
  const tenants = [...new Set(writes.map((w) => w.tenantId))].sort();
  const parts = tenants.map((tenantId) => {
    const own = writes.filter((w) => w.tenantId === tenantId);
    return { tenantId, own, ...tenantBatch(tenantId, own, outbox) };
  });
  const batches = parts.map((p) => ({ tenant: p.tenantId, batch: p.batch }));
  // Rows published since the last write are marked by this statement (migration 0015).
  const marks = outbox.takeMarks();
  let result: Awaited<ReturnType<Db['execute']>>;
  try {
    result = await db.execute(
      sql`select orc_write_task_batches(${replicaId}::text, ${JSON.stringify(batches)}::jsonb,
        ${marks ? JSON.stringify(marks) : null}::jsonb) as out`,
    );
  } catch (err) {
    outbox.giveBackMarks(marks);
    throw err;
  }
  const answers = rowsOf<{ out: WriteAnswer[] }>(result)[0]!.out;
  const byWrite = new Map<PendingWrite<TaskWrite>, TaskWriteResult>();
  parts.forEach((part, i) => {
    const answer = answers[i]!;
    const written = new Set(answer.events);
    // Committed already: published now.
    outbox.inserted(
      undefined,
      part.events.filter((e) => written.has(e.built.envelope.id)).map((e) => e.built),
    );
    resultsOf(part.own, answer).forEach((r, j) => byWrite.set(part.own[j]!, r));
  });
  return writes.map((w) => byWrite.get(w)!);
}

/**
 * One tenant's writes as orc_write_tasks takes them. The events are built here (they are
 * protobuf, in each writer's async context) for the outcome each writer expects, each with a
 * guard the function checks: a task that turned out to exist already, a refused reservation or a
 * task moved meanwhile writes none of the events that did not happen.
 */
function tenantBatch(tenantId: string, writes: PendingWrite<TaskWrite>[], outbox: OutboxWriter) {
  const events: { built: BuiltEvent; taskId: string; guard: Guard }[] = [];
  const guarded = (taskId: string, guard: Guard, built: BuiltEvent[]) =>
    events.push(...built.map((b) => ({ built: b, taskId, guard })));
  const creates: object[] = [];
  const moves: object[] = [];
  const streams: { task_id: string; kind: StreamKind; data: unknown; guard?: 'moved' }[] = [];

  for (const w of writes) {
    const op = w.op;
    if (op.kind === 'create') {
      const { record: r, start } = op;
      creates.push({
        id: r.id,
        project_id: r.projectId,
        subject: r.subject,
        intent: r.intent,
        status: start ? 'RUNNING' : 'QUEUED',
        engine_route: start?.engine.route ?? null,
        engine_name: start?.engine.name ?? null,
        chosen_by: start?.engine.chosenBy ?? null,
        reason: start?.engine.reason ?? null,
        sovereignty: start?.sovereignty ?? null,
        request: r.request,
        request_hash: r.requestHash,
        reserve_usd: start?.reserveUsd ?? null,
      });
      const queued: OutboxEvent = {
        type: 'task.state_changed',
        key: r.id,
        payload: { taskId: r.id, fromStatus: 0, toStatus: PROTO_STATUS.QUEUED, intent: r.intent },
      };
      guarded(
        r.id,
        'created',
        w.inCaller(() => outbox.build(queued)),
      );
      if (start) {
        const running = {
          ...r,
          status: 'RUNNING' as const,
          engine: start.engine,
          sovereignty: start.sovereignty,
        };
        const started = transitionEvents(running, 'QUEUED', { via: ['ROUTED'] });
        guarded(
          r.id,
          'started',
          w.inCaller(() => outbox.build(...started)),
        );
      }
    } else if (op.kind === 'transition') {
      const { task, from, to, patch } = op;
      const budget = patch.budget;
      moves.push({
        id: task.id,
        from_status: from,
        to_status: to,
        engine_route: patch.engine?.route ?? null,
        engine_name: patch.engine?.name ?? null,
        chosen_by: patch.engine?.chosenBy ?? null,
        reason: patch.engine?.reason ?? null,
        set_result: patch.result !== undefined,
        result: patch.result ?? null,
        sovereignty: patch.sovereignty ?? null,
        error: patch.error ?? null,
        latency_ms: patch.usage?.latencyMs ?? null,
        input_tokens: patch.usage?.inputTokens ?? null,
        output_tokens: patch.usage?.outputTokens ?? null,
        cost_usd: patch.usage?.costUsd ?? null,
        budget: !budget
          ? null
          : budget.kind === 'reserve'
            ? { kind: 'reserve', project_id: budget.projectId, amount_usd: budget.amountUsd }
            : budget.kind === 'commit'
              ? { kind: 'commit', actual_usd: budget.actualUsd }
              : { kind: 'release' },
        dead_letter_attempts: patch.deadLetter?.attempts ?? null,
      });
      const expected = expectedAfter(task, to, patch);
      const built = w.inCaller(() => outbox.build(...transitionEvents(expected, from, patch)));
      guarded(task.id, 'moved', built);
      for (const e of op.stream)
        streams.push({ task_id: task.id, kind: e.kind, data: e.data ?? null, guard: 'moved' });
    } else {
      for (const e of op.events)
        streams.push({ task_id: op.id, kind: e.kind, data: e.data ?? null });
    }
  }

  // Usage ledger rows go with their usage.recorded events (a finish), marked in their headers.
  const ledger = usageLedgerRows(
    tenantId,
    events.map((e) => e.built),
  ).map((row) => ({
    event_id: row.eventId,
    occurred_at: row.occurredAt.toISOString(),
    task_id: row.taskId,
    project_id: row.projectId,
    engine: row.engine,
    model: row.model,
    input_tokens: row.inputTokens,
    output_tokens: row.outputTokens,
    cost_usd: row.costUsd,
    latency_ms: row.latencyMs,
  }));
  const eventRows = outbox
    .rowsOf(events.map((e) => e.built))
    .map((row, i) => ({ ...row, task_id: events[i]!.taskId, guard: events[i]!.guard }));
  return { batch: { creates, moves, streams, ledger, events: eventRows }, events };
}

const errorOf = (json: { code: string; message: string }) => new AionError(json.code, json.message);

/** Each write's result from the function's answer (which lists creates and moves in order). */
function resultsOf(writes: PendingWrite<TaskWrite>[], answer: WriteAnswer): TaskWriteResult[] {
  const appended = new Map<string, StreamEvent[]>();
  for (const row of answer.appended) {
    const list = appended.get(row.task_id) ?? [];
    list.push({ sequence: Number(row.sequence), kind: row.kind, data: row.data });
    appended.set(row.task_id, list);
  }
  let creates = 0;
  let moves = 0;
  return writes.map(({ op }): TaskWriteResult => {
    if (op.kind === 'create') {
      const done = answer.creates[creates++]!;
      const row = done.created ? { ...done.row, request: op.record.request } : done.row;
      return {
        record: toRecord(fromRaw(row)),
        created: done.created,
        appended: [],
        ...(done.remaining ? { remainingBudget: remainingOf(done.remaining) } : {}),
      };
    }
    if (op.kind === 'append') return { appended: appended.get(op.id) ?? [] };
    const done = answer.moves[moves++]!;
    if (done.refused) return { appended: [], refused: errorOf(done.refused) };
    if (!done.row) return { appended: [] };
    const result = op.patch.result !== undefined ? op.patch.result : op.task.result;
    return {
      record: toRecord(fromRaw({ ...done.row, request: op.task.request, result: result ?? null })),
      appended: appended.get(op.task.id) ?? [],
      ...(done.problem ? { budgetProblem: errorOf(done.problem) } : {}),
      ...(done.remaining ? { remainingBudget: remainingOf(done.remaining) } : {}),
    };
  });
}
