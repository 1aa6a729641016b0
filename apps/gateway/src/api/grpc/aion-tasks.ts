import { AionTasks, TaskStatus, type TaskOrchestrator, type TaskView } from '@aion/contracts';
import { can, type Principal } from '@aion/auth';
import { AionError } from '@aion/errors';
import type { ClientOf, GrpcServer, PublicServiceOptions } from '@aion/grpc';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import type { Capacity } from '../capacity';
import { toSubmit } from '../tasks/task-json';
import { parseTaskId, taskRequestParser } from './task-request';
import { publicTaskResult } from './task-result';

/** How long one Stream call may follow its task, as REST's SSE streams. */
const STREAM_DEADLINE_MS = 3_600_000;

const TERMINAL = new Set([
  TaskStatus.OK,
  TaskStatus.ERROR,
  TaskStatus.TIMEOUT,
  TaskStatus.CANCELED,
]);

export interface PublicTaskApiDeps {
  tasks: ClientOf<typeof TaskOrchestrator>;
  jurisdictions: JurisdictionRegistry;
  /** Jurisdiction of tasks that send no data_context (blueprint clients do not). */
  defaultJurisdiction: string;
  requestTimeoutMs: number;
  /** Request slots and stream slots, shared fairly per tenant and key with REST. */
  requests: Capacity;
  streams: Capacity;
}

/** Takes a slot of `capacity` for the caller, refused as REST refuses (429 past a share). */
function slotFor(
  capacity: Capacity,
  principal: Principal | undefined,
  what: 'requests' | 'streams',
) {
  if (!principal) throw AionError.unauthenticated();
  return capacity.take(principal, what);
}

/** Runs a unary call in a request slot. */
async function inSlot<T>(
  capacity: Capacity,
  principal: Principal | undefined,
  run: () => Promise<T>,
): Promise<T> {
  const release = slotFor(capacity, principal, 'requests');
  try {
    return await run();
  } finally {
    release();
  }
}

/** A sovereignty refusal is the answer to the submit, as over REST (PERMISSION_DENIED). */
function refuseIfSovereign(view: TaskView): void {
  const code = view.status === TaskStatus.ERROR ? view.error?.code : undefined;
  if (code?.startsWith('sovereign.'))
    throw new AionError(code, view.error?.message ?? 'refused by sovereignty rules', {
      details: [{ field: 'task_id', reason: 'task', message: view.taskId }],
    });
}

/**
 * The public aion.v1.AionTasks (tasks.proto), served on the gateway's gRPC port over the
 * orchestrator's TaskOrchestrator: the same checks, permissions and results as REST /v1/tasks.
 */
export function registerPublicTaskApi(
  server: GrpcServer,
  deps: PublicTaskApiDeps,
  edge: PublicServiceOptions,
): void {
  const { tasks } = deps;
  const deadline = { deadlineMs: deps.requestTimeoutMs };
  const parseRequest = taskRequestParser(deps.jurisdictions, deps.defaultJurisdiction);
  const statusOf = async (taskId: string, signal: AbortSignal) =>
    (await tasks.statusById({ taskId }, { ...deadline, signal })).result!;

  server.add(
    AionTasks,
    {
      submit: (req, ctx) =>
        inSlot(deps.requests, ctx.principal, async () => {
          const body = parseRequest(req);
          const submitted = await tasks.submit(
            { ...toSubmit(body), waitMs: req.waitMs },
            {
              deadlineMs: Math.max(deps.requestTimeoutMs, req.waitMs + 5_000),
              signal: ctx.signal,
            },
          );
          refuseIfSovereign(submitted.result!);
          return publicTaskResult(submitted.result!, submitted.deduplicated);
        }),

      // Snapshots of the task: now, whenever its status changes, and the final one.
      stream: async function* (req, ctx) {
        const release = slotFor(deps.streams, ctx.principal, 'streams');
        try {
          yield* follow(req, ctx);
        } finally {
          release();
        }
      },

      statusById: (req, ctx) =>
        inSlot(deps.requests, ctx.principal, async () =>
          publicTaskResult(await statusOf(parseTaskId(req.taskId), ctx.signal)),
        ),

      cancel: (req, ctx) =>
        inSlot(deps.requests, ctx.principal, async () => {
          if (req.reason.length > 500)
            throw AionError.validation('the cancel request is invalid', [
              { field: 'reason', reason: 'too_big', message: 'at most 500 characters' },
            ]);
          const { result } = await tasks.cancel(
            { taskId: parseTaskId(req.taskId), reason: req.reason },
            { ...deadline, signal: ctx.signal },
          );
          return publicTaskResult(result!);
        }),
    },
    {
      submit: 'tasks:submit',
      stream: 'tasks:read',
      statusById: 'tasks:read',
      cancel: 'tasks:cancel',
    },
    edge,
  );

  /** Snapshots of the task: now, whenever its status changes, and the final one. */
  async function* follow(
    req: Parameters<typeof parseRequest>[0] & { taskId: string; intent: string },
    ctx: { principal?: Principal | undefined; signal: AbortSignal },
  ): AsyncGenerator<ReturnType<typeof publicTaskResult>> {
    let current: TaskView;
    let deduplicated = false;
    if (req.intent !== '') {
      // Submitting needs what Submit needs; the access map already asked for tasks:read.
      if (!can(ctx.principal?.roles ?? [], 'tasks:submit'))
        throw AionError.forbidden('this requires the tasks:submit permission');
      const submitted = await tasks.submit(toSubmit(parseRequest({ ...req, waitMs: 0 })), {
        ...deadline,
        signal: ctx.signal,
      });
      current = submitted.result!;
      deduplicated = submitted.deduplicated;
      refuseIfSovereign(current);
    } else {
      current = await statusOf(parseTaskId(req.taskId), ctx.signal);
    }
    yield publicTaskResult(current, deduplicated);
    if (TERMINAL.has(current.status)) return;
    const taskId = current.taskId;
    for await (const event of tasks.stream(
      { taskId },
      { deadlineMs: STREAM_DEADLINE_MS, signal: ctx.signal },
    )) {
      if (event.result) {
        yield publicTaskResult(event.result);
        return;
      }
      // Output before RUNNING was seen: the task moved on; tokens after it change nothing.
      if (current.status !== TaskStatus.RUNNING) {
        const now = await statusOf(taskId, ctx.signal);
        if (now.status !== current.status) yield publicTaskResult(now);
        current = now;
        if (TERMINAL.has(current.status)) return;
      }
    }
    const last = await statusOf(taskId, ctx.signal);
    if (last.status !== current.status) yield publicTaskResult(last);
  }
}
