import { randomUUID } from 'node:crypto';
import { toJson } from '@bufbuild/protobuf';
import { ValueSchema } from '@bufbuild/protobuf/wkt';
import { Router, type Request, type Response } from 'express';
import {
  TaskOrchestrator,
  StreamEventKind,
  TaskStatus,
  type StreamResponse,
} from '@aion/contracts';
import { requirePermission } from '@aion/auth';
import { AionError, toAionError } from '@aion/errors';
import type { ClientOf } from '@aion/grpc';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import { parse, parseTaskRequest } from './validate';
import { CancelRequest, INTENT_PARAMS, TaskIdParam, TaskListQuery, TaskRequest } from './schemas';
import { STATUS_CODE, taskJson, TERMINAL, toSubmit } from './task-json';

const MAX_WAIT_SECONDS = 60;
const STREAM_DEADLINE_MS = 3_600_000;

/** `Prefer: wait=N` (RFC 7240): wait up to N seconds for the finished result. */
function preferredWait(req: Request): number | undefined {
  const match = /(?:^|[;,\s])wait=(\d{1,4})(?:$|[;,\s])/i.exec(req.header('prefer') ?? '');
  return match ? Math.min(Number(match[1]), MAX_WAIT_SECONDS) : undefined;
}

const SSE_EVENT: Record<number, string> = {
  [StreamEventKind.TOKEN]: 'token',
  [StreamEventKind.PARTIAL]: 'partial',
  [StreamEventKind.DONE]: 'done',
  [StreamEventKind.ERROR]: 'error',
};

/** The JSON an SSE or WebSocket client gets for one stream event. */
export function streamEventJson(event: StreamResponse): unknown {
  if (event.kind === StreamEventKind.TOKEN) return { token: event.token };
  if (event.kind === StreamEventKind.PARTIAL)
    return { partial: event.data ? toJson(ValueSchema, event.data) : null };
  return event.result
    ? taskJson(event.result)
    : event.data
      ? toJson(ValueSchema, event.data)
      : null;
}

export function sseEventName(kind: StreamEventKind): string {
  return SSE_EVENT[kind] ?? 'message';
}

/** /v1/tasks and /v1/stream: REST and SSE over aion.v1.TaskOrchestrator. */
export function taskRoutes(
  tasks: ClientOf<typeof TaskOrchestrator>,
  options: { requestTimeoutMs: number; heartbeatMs: number; jurisdictions: JurisdictionRegistry },
): Router {
  const router = Router();
  const deadline = { deadlineMs: options.requestTimeoutMs };

  router.post('/v1/tasks', requirePermission('tasks:submit'), async (req, res) => {
    const body = parseTaskRequest(TaskRequest, req.body, INTENT_PARAMS, (code) =>
      options.jurisdictions.isKnown(code),
    );
    const wait = preferredWait(req);
    // The orchestrator waits for the task to end (Prefer: wait) and answers with its result.
    const controller = new AbortController();
    res.on('close', () => controller.abort());
    const submitted = await tasks.submit(
      { ...toSubmit(body), waitMs: (wait ?? 0) * 1000 },
      {
        deadlineMs: Math.max(options.requestTimeoutMs, (wait ?? 0) * 1000 + 5_000),
        signal: controller.signal,
      },
    );
    const result = submitted.result!;
    const json = taskJson(result);
    res.setHeader('Location', `/v1/tasks/${encodeURIComponent(json.task_id)}`);
    if (wait !== undefined) res.setHeader('Preference-Applied', `wait=${wait}`);
    // A sovereignty refusal is the answer the caller waited for: 403 with the rule that decided.
    const refusal = json.status === 'ERROR' ? json.error?.code : undefined;
    if (refusal?.startsWith('sovereign.'))
      throw new AionError(refusal, json.error?.message ?? 'refused by sovereignty rules', {
        details: [{ field: 'task_id', reason: 'task', message: json.task_id }],
      });
    res.status(TERMINAL.has(json.status) ? 200 : 202).json({
      ...json,
      deduplicated: submitted.deduplicated,
      links: { self: `/v1/tasks/${json.task_id}`, stream: `/v1/stream/${json.task_id}` },
    });
  });

  router.get('/v1/tasks', requirePermission('tasks:read'), async (req, res) => {
    const query = parse(TaskListQuery, req.query, 'query');
    const page = await tasks.list(
      {
        page: { pageSize: query.limit, pageToken: query.page_token ?? '' },
        status: query.status ? STATUS_CODE[query.status]! : TaskStatus.UNSPECIFIED,
      },
      deadline,
    );
    res.json({
      data: page.tasks.map(taskJson),
      next_page_token: page.page?.nextPageToken || null,
      total: Number(page.page?.totalSize ?? 0),
    });
  });

  router.get('/v1/tasks/:id', requirePermission('tasks:read'), async (req, res) => {
    const { id } = parse(TaskIdParam, req.params, 'task id');
    res.json(taskJson((await tasks.statusById({ taskId: id }, deadline)).result!));
  });

  router.get('/v1/tasks/:id/receipt', requirePermission('tasks:read'), async (req, res) => {
    const { id } = parse(TaskIdParam, req.params, 'task id');
    const { receiptJson, jws } = await tasks.getReceipt({ taskId: id }, deadline);
    res.json({ receipt: JSON.parse(receiptJson) as unknown, jws });
  });

  router.post('/v1/tasks/:id/cancel', requirePermission('tasks:cancel'), async (req, res) => {
    const { id } = parse(TaskIdParam, req.params, 'task id');
    const { reason } = parse(CancelRequest, req.body ?? {}, 'cancel request');
    res.json(taskJson((await tasks.cancel({ taskId: id, reason }, deadline)).result!));
  });

  router.get(
    '/v1/stream/:id',
    requirePermission('tasks:read'),
    (req, res, next) => void streamSse(req, res, tasks, options.heartbeatMs).catch(next),
  );
  return router;
}

/** SSE: events token, partial, done, error; `id` is the sequence, so Last-Event-ID resumes. */
async function streamSse(
  req: Request,
  res: Response,
  tasks: ClientOf<typeof TaskOrchestrator>,
  heartbeatMs: number,
): Promise<void> {
  const { id } = parse(TaskIdParam, req.params, 'task id');
  const lastEventId =
    req.header('last-event-id') ??
    (typeof req.query['last_event_id'] === 'string' ? req.query['last_event_id'] : undefined);
  if (lastEventId !== undefined && !/^\d{1,15}$/.test(lastEventId))
    throw AionError.validation('Last-Event-ID must be a sequence number');
  // Fails with a JSON envelope (404, 403 ...) before any byte of the event stream is sent.
  await tasks.statusById({ taskId: id });
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(`: stream ${randomUUID()}\nretry: 2000\n\n`);
  const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), heartbeatMs);
  try {
    for await (const event of tasks.stream(
      { taskId: id, afterSequence: BigInt(lastEventId ?? 0) },
      { deadlineMs: STREAM_DEADLINE_MS, signal: controller.signal },
    )) {
      res.write(
        `id: ${event.sequence}\nevent: ${sseEventName(event.kind)}\ndata: ${JSON.stringify(streamEventJson(event))}\n\n`,
      );
    }
  } catch (err) {
    if (!controller.signal.aborted) {
      const error = toAionError(err);
      res.write(
        `event: error\ndata: ${JSON.stringify(error.toEnvelope(String(res.locals['requestId'] ?? '')))}\n\n`,
      );
    }
  } finally {
    clearInterval(heartbeat);
    res.end();
  }
}
