import { context } from '@opentelemetry/api';
import { runWithTenant } from '@aion/tenancy';
import { extractTraceContext, type Logger, type ServiceMetrics } from '@aion/telemetry';
import { DLQ_HEADERS, type Deduper, type IncomingEvent, type SubscribeOptions } from './bus';
import { DLQ_SUFFIX, dlqTopicOf } from './catalog';
import { decodeEnvelope, type OutgoingMessage } from './envelope';

/** One record as a broker hands it over, before decoding. */
export interface RawRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string;
  value: Uint8Array | null;
  headers: Record<string, string>;
}

export interface PipelineDeps {
  deduper: Deduper;
  publishDeadLetter(message: OutgoingMessage): Promise<void>;
  logger?: Logger | undefined;
  metrics?: ServiceMetrics | undefined;
  /** Called between retries so a broker session stays alive (kafkajs heartbeat). */
  heartbeat?: () => Promise<void>;
  sleep?: (ms: number) => Promise<void>;
  /** Aborted when the subscription stops: a record waiting to be retried is left uncommitted. */
  signal?: AbortSignal;
}

/** Longest wait between heartbeats while a retry backs off (the session times out at 30 s). */
const HEARTBEAT_EVERY_MS = 3_000;

/** Waits `ms`, ending early when `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done);
  });
}

/**
 * Dead letters are never dead-lettered again (no `.dlq.dlq`): a record a DLQ consumer cannot
 * handle stays where it is, in its retained topic, and the log says where to find it.
 */
async function keepInPlace(record: RawRecord, deps: PipelineDeps): Promise<void> {
  deps.logger?.error('could not handle a dead letter; it stays in its topic', {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
  });
}

function deadLetter(
  record: RawRecord,
  groupId: string,
  error: string,
  attempts: number,
): OutgoingMessage {
  return {
    topic: dlqTopicOf(record.topic),
    key: record.key,
    value: record.value ?? new Uint8Array(),
    headers: {
      ...record.headers,
      [DLQ_HEADERS.error]: error.slice(0, 1000),
      [DLQ_HEADERS.attempts]: String(attempts),
      [DLQ_HEADERS.originalTopic]: record.topic,
      [DLQ_HEADERS.originalPartition]: String(record.partition),
      [DLQ_HEADERS.originalOffset]: record.offset,
      [DLQ_HEADERS.consumerGroup]: groupId,
      [DLQ_HEADERS.failedAt]: new Date().toISOString(),
    },
  };
}

/**
 * What happens to every consumed record, on Kafka and in memory alike: decode (malformed ->
 * dead letter at once), skip if this group processed the id already, run the handler in the
 * event's tenant and trace context with exponential-backoff retries, and dead-letter it when
 * attempts run out. Resolves true when the record may be committed; never throws for a bad
 * record. Resolves false when the subscription stopped while the record waited for a retry: it
 * was not handled and is delivered again after the group resumes.
 */
export async function processRecord(
  record: RawRecord,
  options: SubscribeOptions,
  pipelineDeps: PipelineDeps,
): Promise<boolean> {
  const deps = record.topic.endsWith(DLQ_SUFFIX)
    ? { ...pipelineDeps, publishDeadLetter: async () => keepInPlace(record, pipelineDeps) }
    : pipelineDeps;
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  // Backoffs can be long (up to 30 s): the broker session is kept alive through them and a
  // stopping subscription does not wait for them.
  const sleep =
    deps.sleep ??
    (async (ms: number) => {
      const until = Date.now() + ms;
      for (let left = ms; left > 0 && !deps.signal?.aborted; left = until - Date.now()) {
        await pause(Math.min(left, HEARTBEAT_EVERY_MS), deps.signal);
        if (left > HEARTBEAT_EVERY_MS && !deps.signal?.aborted) await deps.heartbeat?.();
      }
    });
  let envelope;
  try {
    envelope = decodeEnvelope(record.value);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    deps.logger?.warn('poison message sent to dead-letter topic', {
      topic: record.topic,
      offset: record.offset,
      reason,
    });
    await deps.publishDeadLetter(deadLetter(record, options.groupId, reason, 0));
    deps.metrics?.observeConsumer(record.topic, 'dead_lettered', seconds());
    return true;
  }
  if (await deps.deduper.isProcessed(options.groupId, envelope.id)) {
    deps.metrics?.observeConsumer(record.topic, 'duplicate', seconds());
    return true;
  }
  const event: IncomingEvent = {
    envelope,
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    key: record.key,
    value: record.value ?? new Uint8Array(),
    headers: record.headers,
  };
  const maxAttempts = Math.max(1, options.maxAttempts ?? 5);
  const run = () => {
    const traced = () =>
      context.with(extractTraceContext({ traceparent: envelope.traceparent }), () =>
        options.handler(event),
      );
    return envelope.tenantId
      ? runWithTenant(
          {
            tenantId: envelope.tenantId,
            subject: envelope.source || 'event',
            roles: ['service'],
            requestId: envelope.correlationId,
          },
          traced,
        )
      : traced();
  };
  // A loop of its own rather than libs/resilience's retry policy: the wait between attempts
  // heartbeats the broker session, and a stopping subscription abandons the record uncommitted
  // (resolving false), neither of which a cockatiel policy can do.
  for (let attempt = 1; ; attempt++) {
    try {
      await run();
      await deps.deduper.markProcessed(options.groupId, envelope.id);
      deps.metrics?.observeConsumer(record.topic, attempt === 1 ? 'ok' : 'retried', seconds());
      return true;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (attempt >= maxAttempts) {
        deps.logger?.error('event handler failed; sent to dead-letter topic', {
          topic: record.topic,
          event_id: envelope.id,
          type: envelope.type,
          attempts: attempt,
          reason,
        });
        await deps.publishDeadLetter(deadLetter(record, options.groupId, reason, attempt));
        deps.metrics?.observeConsumer(record.topic, 'dead_lettered', seconds());
        return true;
      }
      if (deps.signal?.aborted) return false;
      deps.logger?.warn('event handler failed; retrying', {
        topic: record.topic,
        event_id: envelope.id,
        attempt,
        reason,
      });
      await sleep(Math.min(30_000, (options.retryBaseMs ?? 200) * 2 ** (attempt - 1)));
      if (deps.signal?.aborted) return false;
      await deps.heartbeat?.();
    }
  }
}
