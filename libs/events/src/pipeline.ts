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

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

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
 * attempts run out. Resolves when the record may be committed; never throws for a bad record.
 */
export async function processRecord(
  record: RawRecord,
  options: SubscribeOptions,
  pipelineDeps: PipelineDeps,
): Promise<void> {
  const deps = record.topic.endsWith(DLQ_SUFFIX)
    ? { ...pipelineDeps, publishDeadLetter: async () => keepInPlace(record, pipelineDeps) }
    : pipelineDeps;
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  const sleep = deps.sleep ?? defaultSleep;
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
    return;
  }
  if (await deps.deduper.isProcessed(options.groupId, envelope.id)) {
    deps.metrics?.observeConsumer(record.topic, 'duplicate', seconds());
    return;
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
  for (let attempt = 1; ; attempt++) {
    try {
      await run();
      await deps.deduper.markProcessed(options.groupId, envelope.id);
      deps.metrics?.observeConsumer(record.topic, attempt === 1 ? 'ok' : 'retried', seconds());
      return;
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
        return;
      }
      deps.logger?.warn('event handler failed; retrying', {
        topic: record.topic,
        event_id: envelope.id,
        attempt,
        reason,
      });
      await sleep(Math.min(30_000, (options.retryBaseMs ?? 200) * 2 ** (attempt - 1)));
      await deps.heartbeat?.();
    }
  }
}
