import type { TaskOrchestrator } from '@aion/contracts';
import type { ClientOf } from '@aion/grpc';
import { sseEventName, streamEventJson } from '../../tasks/task-json';
import type { SseEvent } from './sse';

const STREAM_DEADLINE_MS = 3_600_000;

/** A task's stream as server-sent events: token, partial, done, error; `id` is the sequence. */
export async function* taskEvents(
  tasks: ClientOf<typeof TaskOrchestrator>,
  taskId: string,
  after: bigint,
  signal: AbortSignal,
): AsyncIterable<SseEvent> {
  for await (const event of tasks.stream(
    { taskId, afterSequence: after },
    { deadlineMs: STREAM_DEADLINE_MS, signal },
  ))
    yield {
      id: String(event.sequence),
      event: sseEventName(event.kind),
      data: streamEventJson(event),
    };
}
