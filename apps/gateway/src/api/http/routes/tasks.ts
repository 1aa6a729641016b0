import { TaskOrchestrator, TaskStatus } from '@aion/contracts';
import { AionError } from '@aion/errors';
import type { ClientOf } from '@aion/grpc';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import type { Capacity } from '../../capacity';
import { idempotentTaskId } from '../middleware';
import { route, type Route } from '../routing/route';
import { STATUS_CODE, taskJson, TERMINAL, toSubmit } from '../../tasks/task-json';
import { jurisdictionSchema } from '../../wire-schemas';
import { serveSse } from './sse';
import { taskEvents } from './task-stream';
import {
  CancelBody,
  ReceiptJson,
  StreamHeaders,
  StreamQuery,
  SubmittedTaskJson,
  TaskIdPath,
  TaskListQuery,
  TaskPage,
  taskRequestSchema,
  TaskEvents,
  TaskResultJson,
  WaitHeaders,
} from '../../tasks/task-schemas';

const MAX_WAIT_SECONDS = 60;

/** `Prefer: wait=N` (RFC 7240): wait up to N seconds for the finished result. */
function preferredWait(prefer: string | undefined): number | undefined {
  const match = /(?:^|[;,\s])wait=(\d{1,4})(?:$|[;,\s])/i.exec(prefer ?? '');
  return match ? Math.min(Number(match[1]), MAX_WAIT_SECONDS) : undefined;
}

const taskLinks = {
  GetTask: { operationId: 'getTask', parameters: { id: '$response.body#/task_id' } },
  CancelTask: { operationId: 'cancelTask', parameters: { id: '$response.body#/task_id' } },
  GetReceipt: { operationId: 'getTaskReceipt', parameters: { id: '$response.body#/task_id' } },
  StreamTask: { operationId: 'streamTask', parameters: { id: '$response.body#/task_id' } },
};

export interface TaskRouteDeps {
  tasks: ClientOf<typeof TaskOrchestrator>;
  jurisdictions: JurisdictionRegistry;
  requestTimeoutMs: number;
  heartbeatMs: number;
  streams: Capacity;
}

/** /v1/tasks and /v1/stream: the blueprint's REST API over the orchestrator. */
export function taskRoutes(deps: TaskRouteDeps): Route[] {
  const { tasks } = deps;
  const deadline = { deadlineMs: deps.requestTimeoutMs };
  return [
    route({
      method: 'post',
      path: '/v1/tasks',
      operationId: 'submitTask',
      summary: 'Submit a task (answers with the result when it ends within Prefer: wait)',
      tag: 'tasks',
      access: 'tasks:submit',
      request: {
        body: taskRequestSchema(jurisdictionSchema(deps.jurisdictions)),
        headers: WaitHeaders,
      },
      responses: {
        200: { description: 'Finished within Prefer: wait', schema: SubmittedTaskJson },
        202: {
          description: 'Accepted; follow links.stream or poll links.self',
          schema: SubmittedTaskJson,
        },
      },
      errors: [409, 422],
      links: taskLinks,
      submitsTask: true,
      async handle({ body, headers, res, signal }) {
        const wait = preferredWait(headers.prefer);
        const { task } = toSubmit(body);
        // The orchestrator waits for the task to end (Prefer: wait) and answers with its result.
        const submitted = await tasks.submit(
          {
            task: { ...task, taskId: idempotentTaskId(res, task.taskId) },
            waitMs: (wait ?? 0) * 1000,
          },
          { deadlineMs: Math.max(deps.requestTimeoutMs, (wait ?? 0) * 1000 + 5_000), signal },
        );
        const json = taskJson(submitted.result!);
        // A sovereignty refusal is the answer the caller waited for: 403 with the rule that decided.
        const refusal = json.status === 'ERROR' ? json.error?.code : undefined;
        if (refusal?.startsWith('sovereign.'))
          throw new AionError(refusal, json.error?.message ?? 'refused by sovereignty rules', {
            details: [{ field: 'task_id', reason: 'task', message: json.task_id }],
          });
        const self = `/v1/tasks/${encodeURIComponent(json.task_id)}`;
        return {
          status: TERMINAL.has(json.status) ? 200 : 202,
          headers: {
            Location: self,
            ...(wait !== undefined ? { 'Preference-Applied': `wait=${wait}` } : {}),
          },
          body: {
            ...json,
            deduplicated: submitted.deduplicated,
            links: { self, stream: `/v1/stream/${encodeURIComponent(json.task_id)}` },
          },
        };
      },
    }),
    route({
      method: 'get',
      path: '/v1/tasks',
      operationId: 'listTasks',
      summary: 'List your tasks, newest first',
      tag: 'tasks',
      access: 'tasks:read',
      request: { query: TaskListQuery },
      responses: { 200: { description: 'A page of tasks', schema: TaskPage } },
      async handle({ query }) {
        const page = await tasks.list(
          {
            page: { pageSize: query.limit, pageToken: query.page_token ?? '' },
            status: query.status ? STATUS_CODE[query.status]! : TaskStatus.UNSPECIFIED,
          },
          deadline,
        );
        return {
          status: 200,
          body: {
            data: page.tasks.map(taskJson),
            next_page_token: page.page?.nextPageToken || null,
            total: Number(page.page?.totalSize ?? 0),
          },
        };
      },
    }),
    route({
      method: 'get',
      path: '/v1/tasks/{id}',
      operationId: 'getTask',
      summary: 'The canonical result of a task',
      tag: 'tasks',
      access: 'tasks:read',
      request: { path: TaskIdPath },
      responses: { 200: { description: 'The task', schema: TaskResultJson } },
      errors: [404],
      async handle({ path }) {
        return {
          status: 200,
          body: taskJson((await tasks.statusById({ taskId: path.id }, deadline)).result!),
        };
      },
    }),
    route({
      method: 'get',
      path: '/v1/tasks/{id}/receipt',
      operationId: 'getTaskReceipt',
      summary: 'The signed sovereignty receipt of a finished task',
      tag: 'tasks',
      access: 'tasks:read',
      request: { path: TaskIdPath },
      responses: { 200: { description: 'Receipt and its signature', schema: ReceiptJson } },
      errors: [404, 409],
      async handle({ path }) {
        const { receiptJson, jws } = await tasks.getReceipt({ taskId: path.id }, deadline);
        return {
          status: 200,
          body: { receipt: JSON.parse(receiptJson) as Record<string, unknown>, jws },
        };
      },
    }),
    route({
      method: 'post',
      path: '/v1/tasks/{id}/cancel',
      operationId: 'cancelTask',
      summary: 'Cancel a task (a finished task is returned unchanged)',
      tag: 'tasks',
      access: 'tasks:cancel',
      request: { path: TaskIdPath, body: CancelBody, bodyOptional: true },
      responses: { 200: { description: 'The task after cancelling', schema: TaskResultJson } },
      errors: [404],
      async handle({ path, body }) {
        const { result } = await tasks.cancel({ taskId: path.id, reason: body.reason }, deadline);
        return { status: 200, body: taskJson(result!) };
      },
    }),
    route({
      method: 'get',
      path: '/v1/stream/{id}',
      operationId: 'streamTask',
      summary:
        'Server-sent events of a task: token, partial, done, error (resumes from Last-Event-ID)',
      tag: 'tasks',
      access: 'tasks:read',
      request: { path: TaskIdPath, query: StreamQuery, headers: StreamHeaders },
      responses: {
        200: {
          description: 'Server-sent events: token, partial, done, error; `id` is the sequence',
          eventStream: { events: TaskEvents },
        },
      },
      errors: [404],
      async handle({ path, query, headers, res, signal, principal }) {
        const after = headers['last-event-id'] ?? query.last_event_id ?? '0';
        // Fails with a JSON envelope (404, 403 ...) before any byte of the event stream is sent.
        await tasks.statusById({ taskId: path.id }, deadline);
        await serveSse(res, taskEvents(tasks, path.id, BigInt(after), signal), {
          heartbeatMs: deps.heartbeatMs,
          signal,
          streams: deps.streams,
          principal,
        });
        return 'sent';
      },
    }),
  ];
}
