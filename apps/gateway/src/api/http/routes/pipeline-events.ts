import * as z from 'zod/v4';
import type { Capacity } from '../../capacity';
import { StreamHeaders, StreamQuery } from '../../tasks/task-schemas';
import { ErrorEnvelopeJson, Uuid } from '../../wire-schemas';
import { route, type Route } from '../routing/route';
import { BASE, Job, jobJson, type PipelineClient } from './pipeline-json';
import { serveSse, type SseEvent } from './sse';

const STREAM_DEADLINE_MS = 3_600_000;

/** A job's events: `progress` while it runs, `done` once it finished (the last), `error`. */
export const JobEvents = { progress: Job, done: Job, error: ErrorEnvelopeJson };

/** One change of a watched job, as an event name and its JSON (shared by SSE and WebSocket). */
export function jobEvent(message: {
  job?: Parameters<typeof jobJson>[0];
  sequence: bigint;
  final: boolean;
}) {
  return {
    id: Number(message.sequence),
    event: message.final ? ('done' as const) : ('progress' as const),
    data: jobJson(message.job),
  };
}

/** A job's changes as server-sent events; `id` is the sequence, so Last-Event-ID resumes. */
async function* jobEvents(
  pipeline: PipelineClient,
  id: string,
  after: bigint,
  signal: AbortSignal,
): AsyncIterable<SseEvent> {
  for await (const message of pipeline.watchJob(
    { id, afterSequence: after },
    { deadlineMs: STREAM_DEADLINE_MS, signal },
  )) {
    const event = jobEvent(message);
    yield { ...event, id: String(event.id) };
  }
}

/** GET /api/v1/pipeline/jobs/{id}/events: the job's progress as server-sent events. */
export function jobEventRoutes(
  pipeline: PipelineClient,
  options: { requestTimeoutMs: number; heartbeatMs: number; streams: Capacity },
): Route[] {
  return [
    route({
      method: 'get',
      path: `${BASE}/jobs/{id}/events`,
      operationId: 'streamPipelineJobEvents',
      summary:
        "Server-sent events of a job's progress: its state now, each change (stage, rows, bytes, stage_percent), then done (resumes from Last-Event-ID)",
      tag: 'pipeline',
      access: 'tasks:read',
      request: { path: z.strictObject({ id: Uuid }), query: StreamQuery, headers: StreamHeaders },
      responses: {
        200: {
          description:
            'Server-sent events: progress (the job), done (the finished job, last), error; `id` is the sequence',
          eventStream: { events: JobEvents },
        },
      },
      errors: [404],
      async handle({ path, query, headers, res, signal, principal }) {
        const after = headers['last-event-id'] ?? query.last_event_id ?? '0';
        // Fails with a JSON envelope (404, 403 ...) before any byte of the event stream is sent.
        await pipeline.getJob({ id: path.id }, { deadlineMs: options.requestTimeoutMs });
        await serveSse(res, jobEvents(pipeline, path.id, BigInt(after), signal), {
          heartbeatMs: options.heartbeatMs,
          signal,
          streams: options.streams,
          principal,
        });
        return 'sent';
      },
    }),
  ];
}
