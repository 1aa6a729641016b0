import { randomUUID } from 'node:crypto';
import type { Response } from 'express';
import type { TaskOrchestrator } from '@aion/contracts';
import { toAionError } from '@aion/errors';
import type { ClientOf } from '@aion/grpc';
import { sseEventName, streamEventJson } from '../../tasks/task-json';

const STREAM_DEADLINE_MS = 3_600_000;

/** SSE: events token, partial, done, error; `id` is the sequence, so Last-Event-ID resumes. */
export async function streamSse(
  res: Response,
  tasks: ClientOf<typeof TaskOrchestrator>,
  options: { taskId: string; after: bigint; heartbeatMs: number; signal: AbortSignal },
): Promise<void> {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(`: stream ${randomUUID()}\nretry: 2000\n\n`);
  const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), options.heartbeatMs);
  try {
    for await (const event of tasks.stream(
      { taskId: options.taskId, afterSequence: options.after },
      { deadlineMs: STREAM_DEADLINE_MS, signal: options.signal },
    )) {
      res.write(
        `id: ${event.sequence}\nevent: ${sseEventName(event.kind)}\ndata: ${JSON.stringify(streamEventJson(event))}\n\n`,
      );
    }
  } catch (err) {
    if (!options.signal.aborted) {
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
