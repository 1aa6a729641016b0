import { inArray, sql } from 'drizzle-orm';
import { rowsOf, type PendingWrite, type Tx } from '@aion/db';
import type { AionError } from '@aion/errors';
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
import { applyBudgetSteps, type BudgetStep } from './budget-writes';
import { recordDeadTask } from './dead-letter-repository';
import { tasks } from './schema';
import { usageLedgerRows, writeUsageLedger } from './usage-ledger';
import { fromRaw, toRecord, type RawTaskRow } from './task-rows';
import { PROTO_CLASSIFICATION, PROTO_STATUS } from '../../proto';

/** A write to one task; a group commit puts many of them (one per task) in one transaction. */
export type TaskWrite =
  | { kind: 'create'; record: TaskRecord; start?: TaskStart | undefined }
  | {
      kind: 'transition';
      id: string;
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
  write.kind === 'create' ? write.record.id : write.id;

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

/**
 * Writes a batch of task writes (at most one per task) in the caller's transaction with a fixed
 * number of statements whatever the batch size: one insert for new tasks, one update for every
 * transition, one outbox insert, one lock and one insert for stream events.
 */
export async function writeTaskBatch(
  tx: Tx,
  tenantId: string,
  writes: PendingWrite<TaskWrite>[],
  outbox: OutboxWriter,
  /** Recorded on every task the batch creates or moves: the replica running it. */
  replicaId: string | null = null,
): Promise<TaskWriteResult[]> {
  const results: TaskWriteResult[] = writes.map(() => ({ appended: [] }));
  const events: BuiltEvent[] = [];
  const streams: { index: number; id: string; events: NewStreamEvent[] }[] = [];

  const creates = writes.flatMap((w, index) => (w.op.kind === 'create' ? [{ w, index }] : []));
  if (creates.length > 0) {
    const ops = creates.map(({ w }) => w.op as Extract<TaskWrite, { kind: 'create' }>);
    const inserted = await insertTasks(tx, tenantId, ops, replicaId);
    const byId = new Map(inserted.map((row) => [row.id, row]));
    const createdIds = new Set(byId.keys());
    const missing = ops.filter((op) => !byId.has(op.record.id)).map((op) => op.record.id);
    const existing = missing.length
      ? await tx.select().from(tasks).where(inArray(tasks.id, missing))
      : [];
    for (const row of existing) byId.set(row.id, row);
    const starts = await reserveForStarts(tx, tenantId, ops, createdIds);
    for (const row of starts.requeued) byId.set(row.id, row);
    creates.forEach(({ w, index }, i) => {
      const row = byId.get(ops[i]!.record.id)!;
      const created = createdIds.has(row.id);
      const record = toRecord(row);
      const remainingBudget = starts.remaining.get(row.id);
      results[index] = {
        record,
        created,
        appended: [],
        ...(remainingBudget && { remainingBudget }),
      };
      if (!created) return;
      const queued: OutboxEvent = {
        type: 'task.state_changed',
        key: row.id,
        payload: {
          taskId: row.id,
          fromStatus: 0,
          toStatus: PROTO_STATUS.QUEUED,
          intent: row.intent,
        },
      };
      const started =
        record.status === 'RUNNING' ? transitionEvents(record, 'QUEUED', { via: ['ROUTED'] }) : [];
      events.push(...w.inCaller(() => outbox.build(queued, ...started)));
    });
  }

  const allMoves = writes.flatMap((w, index) => (w.op.kind === 'transition' ? [{ w, index }] : []));
  const moves = await applyTransitionBudgets(tx, tenantId, allMoves, results);
  if (moves.length > 0) {
    const ops = moves.map(({ w }) => w.op as Extract<TaskWrite, { kind: 'transition' }>);
    const updated = new Map(
      (await updateTasks(tx, tenantId, ops, replicaId)).map((raw) => [
        raw.id,
        toRecord(fromRaw(raw)),
      ]),
    );
    for (const [i, { w, index }] of moves.entries()) {
      const op = ops[i]!;
      const record = updated.get(op.id);
      results[index] = { ...results[index], record, appended: [] };
      if (!record) continue;
      events.push(
        ...w.inCaller(() => outbox.build(...transitionEvents(record, op.from, op.patch))),
      );
      if (op.patch.deadLetter && record.error)
        await recordDeadTask(tx, tenantId, {
          taskId: op.id,
          intent: record.intent,
          errorCode: record.error.code,
          errorMessage: record.error.message,
          retryCount: op.patch.deadLetter.attempts,
          request: record.request,
        });
      if (op.stream.length > 0) streams.push({ index, id: op.id, events: op.stream });
    }
  }

  writes.forEach((w, index) => {
    if (w.op.kind === 'append' && w.op.events.length > 0)
      streams.push({ index, id: w.op.id, events: w.op.events });
  });

  // No write needs another's answer: they go out at once (pipelined on PostgreSQL).
  const ledger = usageLedgerRows(tenantId, events);
  const [, , appended] = await Promise.all([
    writeUsageLedger(tx, ledger),
    outbox.insert(tx, events),
    streams.length > 0 ? appendStreams(tx, tenantId, streams) : undefined,
  ]);
  for (const { index, id } of streams) results[index]!.appended = appended?.get(id) ?? [];
  return results;
}

/**
 * The budget steps of transitions, before the transitions themselves: their tasks are locked
 * and only those still in `from` take their step (a task that moved meanwhile reserves
 * nothing). A transition whose reservation is refused is dropped, recorded as refused in
 * `results`; the rest go on.
 */
async function applyTransitionBudgets<W extends { w: PendingWrite<TaskWrite>; index: number }>(
  tx: Tx,
  tenantId: string,
  moves: W[],
  results: TaskWriteResult[],
): Promise<W[]> {
  const budgeted = moves.filter(({ w }) => w.op.kind === 'transition' && w.op.patch.budget);
  if (budgeted.length === 0) return moves;
  const opOf = (m: W) => m.w.op as Extract<TaskWrite, { kind: 'transition' }>;
  const rows = new Map(
    rowsOf<{ id: string; status: string; reserved: boolean }>(
      await tx.execute(sql`
        select t.id, t.status, exists(
          select 1 from orc_budget_reservations r
          where r.tenant_id = t.tenant_id and r.request_id = t.id and r.status = 'RESERVED'
        ) as reserved
        from orc_tasks t
        where t.tenant_id = ${tenantId} and t.id in ${budgeted.map((m) => opOf(m).id)}
        order by t.id for update of t`),
    ).map((row) => [row.id, row]),
  );
  // Only tasks still in `from` take their step; a release only where something is reserved.
  const stepping = budgeted.filter((m) => {
    const row = rows.get(opOf(m).id);
    return (
      row?.status === opOf(m).from && (opOf(m).patch.budget!.kind !== 'release' || row.reserved)
    );
  });
  const steps = stepping.map((m): BudgetStep => {
    const { id, patch } = opOf(m);
    const budget = patch.budget!;
    if (budget.kind === 'reserve')
      return {
        kind: 'reserve',
        requestId: id,
        projectId: budget.projectId,
        amountUsd: budget.amountUsd,
      };
    return budget.kind === 'commit'
      ? { kind: 'commit', requestId: id, actualUsd: budget.actualUsd }
      : { kind: 'release', requestId: id };
  });
  const outcomes = await applyBudgetSteps(tx, tenantId, steps);
  const dropped = new Set<W>();
  stepping.forEach((m, i) => {
    const outcome = outcomes[i]!;
    if (!('error' in outcome)) {
      results[m.index] = { ...results[m.index]!, remainingBudget: outcome.remaining };
      return;
    }
    if (steps[i]!.kind === 'reserve') {
      results[m.index] = { appended: [], refused: outcome.error };
      dropped.add(m);
    } else results[m.index]!.budgetProblem = outcome.error;
  });
  return dropped.size ? moves.filter((m) => !dropped.has(m)) : moves;
}

/**
 * New tasks in one statement, those with a start already RUNNING on their engine; an id that
 * exists already is left alone (and read after).
 */
async function insertTasks(
  tx: Tx,
  tenantId: string,
  ops: Extract<TaskWrite, { kind: 'create' }>[],
  replicaId: string | null,
) {
  const values = ops.map(({ record: r, start }) => ({
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
  }));
  const rows = rowsOf<RawTaskRow>(
    await tx.execute(sql`
      insert into orc_tasks (tenant_id, id, project_id, subject, intent, status, engine_route,
        engine_name, chosen_by, reason, sovereignty, request, request_hash, replica_id)
      select ${tenantId}, v.id, v.project_id, v.subject, v.intent, v.status, v.engine_route,
        v.engine_name, v.chosen_by, v.reason, v.sovereignty, v.request, v.request_hash,
        ${replicaId}::text
      from jsonb_to_recordset(${JSON.stringify(values)}::jsonb) as v(
        id text, project_id text, subject text, intent text, status text, engine_route text,
        engine_name text, chosen_by text, reason text, sovereignty jsonb, request jsonb,
        request_hash text)
      on conflict do nothing
      returning *`),
  );
  return rows.map(fromRaw);
}

/**
 * Reservations of the tasks just inserted RUNNING on a paid engine. One the budget refuses puts
 * its task back to QUEUED, unrouted, in the same transaction (it then takes the ordinary
 * route); returns the rows it changed, and what each applied reservation left.
 */
async function reserveForStarts(
  tx: Tx,
  tenantId: string,
  ops: Extract<TaskWrite, { kind: 'create' }>[],
  createdIds: Set<string>,
) {
  const paid = ops.filter(
    (op) => op.start?.reserveUsd !== undefined && createdIds.has(op.record.id),
  );
  const remaining = new Map<string, { projectId: string; usd: number | undefined }>();
  if (paid.length === 0) return { requeued: [], remaining };
  const outcomes = await applyBudgetSteps(
    tx,
    tenantId,
    paid.map(({ record, start }) => ({
      kind: 'reserve',
      requestId: record.id,
      projectId: record.projectId,
      amountUsd: start!.reserveUsd!,
    })),
  );
  paid.forEach((op, i) => {
    const outcome = outcomes[i]!;
    if (!('error' in outcome)) remaining.set(op.record.id, outcome.remaining);
  });
  const refused = paid.filter((_, i) => 'error' in outcomes[i]!).map((op) => op.record.id);
  if (refused.length === 0) return { requeued: [], remaining };
  const requeued = rowsOf<RawTaskRow>(
    await tx.execute(sql`
      update orc_tasks set status = 'QUEUED', engine_route = null, engine_name = null,
        chosen_by = null, reason = null, sovereignty = null
      where tenant_id = ${tenantId} and id in ${refused}
      returning *`),
  ).map(fromRaw);
  return { requeued, remaining };
}

/**
 * Every transition in one statement; a task no longer in its `from` state is not updated. The ids
 * are also listed as constants: the planner cannot see how many rows `jsonb_to_recordset` yields
 * and would otherwise scan the whole table to join them.
 */
async function updateTasks(
  tx: Tx,
  tenantId: string,
  ops: Extract<TaskWrite, { kind: 'transition' }>[],
  replicaId: string | null,
): Promise<RawTaskRow[]> {
  const values = ops.map(({ id, from, to, patch }) => ({
    id,
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
  }));
  return rowsOf<RawTaskRow>(
    await tx.execute(sql`
      update orc_tasks t set
        status = v.to_status,
        updated_at = now(),
        replica_id = coalesce(${replicaId}::text, t.replica_id),
        engine_route = coalesce(v.engine_route, t.engine_route),
        engine_name = coalesce(v.engine_name, t.engine_name),
        chosen_by = coalesce(v.chosen_by, t.chosen_by),
        reason = coalesce(v.reason, t.reason),
        result = case when v.set_result then v.result else t.result end,
        sovereignty = coalesce(v.sovereignty, t.sovereignty),
        error = coalesce(v.error, t.error),
        latency_ms = coalesce(v.latency_ms, t.latency_ms),
        input_tokens = coalesce(v.input_tokens, t.input_tokens),
        output_tokens = coalesce(v.output_tokens, t.output_tokens),
        cost_usd = coalesce(v.cost_usd, t.cost_usd)
      from jsonb_to_recordset(${JSON.stringify(values)}::jsonb) as v(
        id text, from_status text, to_status text, engine_route text, engine_name text,
        chosen_by text, reason text, set_result boolean, result jsonb, sovereignty jsonb,
        error jsonb, latency_ms integer, input_tokens integer, output_tokens integer, cost_usd numeric)
      where t.tenant_id = ${tenantId} and t.id in ${ops.map((op) => op.id)}
        and t.id = v.id and t.status = v.from_status
      returning t.*`),
  );
}

/**
 * Appends stream events, numbered after each task's last one. Per-task advisory locks (taken in
 * one order, so concurrent batches cannot deadlock) keep appends from other replicas in line.
 */
async function appendStreams(
  tx: Tx,
  tenantId: string,
  streams: { id: string; events: NewStreamEvent[] }[],
): Promise<Map<string, StreamEvent[]>> {
  const keys = JSON.stringify(streams.map((s) => `${tenantId}/${s.id}`).sort());
  // The server takes the locks before it runs the insert sent right behind them.
  const locked = tx.execute(
    sql`select pg_advisory_xact_lock(hashtext(k)) from (select k from jsonb_array_elements_text(${keys}::jsonb) k order by k offset 0) locks`,
  );
  const values = streams.flatMap((s) =>
    s.events.map((e, i) => ({ task_id: s.id, ord: i + 1, kind: e.kind, data: e.data ?? null })),
  );
  const inserted = tx.execute(sql`
      insert into orc_task_events (tenant_id, task_id, sequence, kind, data)
      select ${tenantId}, v.task_id, coalesce(last.sequence, 0) + v.ord, v.kind, v.data
      from jsonb_to_recordset(${JSON.stringify(values)}::jsonb) as v(task_id text, ord integer, kind text, data jsonb)
      cross join lateral (
        select max(e.sequence) as sequence from orc_task_events e
        where e.tenant_id = ${tenantId} and e.task_id = v.task_id) last
      returning task_id, sequence, kind, data`);
  const [, result] = await Promise.all([locked, inserted]);
  const rows = rowsOf<{ task_id: string; sequence: string | number; kind: string; data: unknown }>(
    result,
  );
  const byTask = new Map<string, StreamEvent[]>();
  for (const row of rows) {
    const list = byTask.get(row.task_id) ?? [];
    list.push({ sequence: Number(row.sequence), kind: row.kind as StreamKind, data: row.data });
    byTask.set(row.task_id, list);
  }
  for (const list of byTask.values()) list.sort((a, b) => a.sequence - b.sequence);
  return byTask;
}
