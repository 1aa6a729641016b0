import { toJson } from '@bufbuild/protobuf';
import { ValueSchema } from '@bufbuild/protobuf/wkt';
import type { Response } from 'express';
import { StreamEventKind, TaskStatus, type TaskView } from '@aion/contracts';
import { AionError, specFor } from '@aion/errors';
import { openAiError } from './openai-errors';

/** OpenAI's answers built from a `chat` task: usage, errors, and the chunk stream. */

export function usageOf(result: TaskView) {
  const prompt = result.usage?.inputTokens ?? 0;
  const completion = result.usage?.outputTokens ?? 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  };
}

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set([
  TaskStatus.OK,
  TaskStatus.ERROR,
  TaskStatus.TIMEOUT,
  TaskStatus.CANCELED,
]);

/** A task that did not end OK becomes the HTTP error its code stands for. */
export function failIfNotOk(result: TaskView): void {
  if (result.status === TaskStatus.OK) return;
  const code = result.error?.code ?? 'internal.error';
  const known = specFor(code).http !== 500 || code === 'internal.error';
  throw new AionError(
    known ? code : 'service.unavailable',
    result.error?.message ?? 'the task did not complete',
  );
}

export async function streamCompletion(
  res: Response,
  events: AsyncIterable<{ kind: StreamEventKind; token: string; result?: TaskView | undefined }>,
  meta: { id: string; created: number; model: string; includeUsage: boolean },
): Promise<void> {
  let started = false;
  const chunk = (
    delta: Record<string, unknown>,
    finishReason: string | null,
    extra: Record<string, unknown> = {},
  ) => ({
    id: meta.id,
    object: 'chat.completion.chunk',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
    ...extra,
  });
  const begin = () => {
    if (started) return;
    started = true;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
    });
    res.write(`data: ${JSON.stringify(chunk({ role: 'assistant', content: '' }, null))}\n\n`);
  };
  for await (const event of events) {
    if (event.kind === StreamEventKind.TOKEN) {
      begin();
      res.write(`data: ${JSON.stringify(chunk({ content: event.token }, null))}\n\n`);
    } else if (event.result) {
      // Before the first byte an error can still be a proper HTTP error; after it, it ends the stream.
      if (!started) failIfNotOk(event.result);
      begin();
      if (event.result.status === TaskStatus.OK) {
        const output = (event.result.result ? toJson(ValueSchema, event.result.result) : {}) as {
          finish_reason?: string;
        };
        res.write(`data: ${JSON.stringify(chunk({}, output.finish_reason ?? 'stop'))}\n\n`);
        if (meta.includeUsage)
          res.write(
            `data: ${JSON.stringify({ ...chunk({}, null), choices: [], usage: usageOf(event.result) })}\n\n`,
          );
      } else {
        const { body } = openAiError(
          new AionError(
            event.result.error?.code ?? 'internal.error',
            event.result.error?.message ?? 'the task failed',
          ),
        );
        res.write(`data: ${JSON.stringify(body)}\n\n`);
      }
    }
  }
  begin();
  res.end('data: [DONE]\n\n');
}
