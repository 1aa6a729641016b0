import { randomUUID } from 'node:crypto';
import type { Response } from 'express';
import type { Principal } from '@aion/auth';
import { toAionError } from '@aion/errors';
import type { Capacity } from '../../capacity';
import { releaseRequestSlots } from '../middleware';

/** One server-sent event; `id` is its sequence, so Last-Event-ID resumes after it. */
export interface SseEvent {
  id: string;
  event: string;
  data: unknown;
}

/**
 * Writes `events` as server-sent events with a heartbeat, until they end or the client leaves; a
 * failure midway ends the stream with an `error` event carrying the envelope.
 */
export async function writeSse(
  res: Response,
  events: AsyncIterable<SseEvent>,
  options: { heartbeatMs: number; signal: AbortSignal },
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
    for await (const { id, event, data } of events)
      res.write(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
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

/**
 * A route's event stream: it holds one of the caller's stream slots (not a request slot) while
 * `events` are written, then gives it back.
 */
export async function serveSse(
  res: Response,
  events: AsyncIterable<SseEvent>,
  options: {
    heartbeatMs: number;
    signal: AbortSignal;
    streams: Capacity;
    principal: Principal;
  },
): Promise<void> {
  const release = options.streams.take(options.principal, 'streams');
  releaseRequestSlots(res);
  try {
    await writeSse(res, events, options);
  } finally {
    release();
  }
}
