import type { Response } from 'express';
import type { TaskOrchestrator } from '@aion/contracts';
import type { ClientOf } from '@aion/grpc';
import { sseEventName, streamEventJson } from '../../tasks/task-json';
import { writeSse } from './sse';

const STREAM_DEADLINE_MS = 3_600_000;

/** SSE: events token, partial, done, error; `id` is the sequence, so Last-Event-ID resumes. */
export async function streamSse(
  res: Response,
  tasks: ClientOf<typeof TaskOrchestrator>,
  options: { taskId: string; after: bigint; heartbeatMs: number; signal: AbortSignal },
): Promise<void> {
  async function* events() {
    for await (const event of tasks.stream(
      { taskId: options.taskId, afterSequence: options.after },
      { deadlineMs: STREAM_DEADLINE_MS, signal: options.signal },
    ))
      yield {
        id: String(event.sequence),
        event: sseEventName(event.kind),
        data: streamEventJson(event),
      };
  }
  await writeSse(res, events(), options);
}
