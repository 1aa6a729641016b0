import { randomUUID } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { Kafka, logLevel, type ISocketFactory, type SASLOptions } from 'kafkajs';
import { AionError } from '@aion/errors';
import { dataError } from '../../core/model';
import type { Connector, SourceData } from '../../core/ports';
import type { EgressPolicy } from '../egress/egress-policy';
import { JsonLinesSink } from './jsonl-sink';

/** One configured Kafka cluster (AION_PIPELINE_KAFKA_SOURCES); a job names it. */
export interface KafkaSourceCluster {
  brokers: string[];
  ssl?: boolean;
  sasl?: {
    mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
    username: string;
    password: string;
  };
}

const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const refuse = (field: string, message: string) =>
  AionError.validation(message, [{ field, reason: 'invalid', message }]);
const bounded = (v: unknown, field: string, min: number, max: number, fallback: number) => {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw refuse(field, `${field} must be an integer from ${min} to ${max}`);
  return v;
};
const hostPort = (broker: string) => {
  const i = broker.lastIndexOf(':');
  return {
    host: broker.slice(0, i).replace(/^\[(.*)\]$/, '$1'),
    port: Number(broker.slice(i + 1)),
  };
};

/**
 * A Kafka topic as a bounded stream (`{"type":"kafka","connection":"name","topic":"t",
 * "max_messages":…,"max_wait_ms":…}`): read from the earliest offset up to the end the topic had
 * when the read began, `max_messages`, or `max_wait_ms`, whichever comes first; each message's
 * value is a JSON object (a record), appended to a local JSON-lines file. The read uses a
 * throwaway consumer group that commits nothing and is deleted after. Every broker connection,
 * including to brokers the cluster advertises, goes through the egress policy.
 */
export class KafkaConnector implements Connector {
  readonly type = 'kafka';

  constructor(
    private readonly clusters: Record<string, KafkaSourceCluster>,
    private readonly egress: EgressPolicy,
    private readonly scratchDir: string,
  ) {}

  check(source: Record<string, unknown>): void {
    const { connection, topic } = source;
    if (typeof connection === 'string' && connection !== '' && !(connection in this.clusters))
      throw AionError.notFound('Kafka cluster', connection);
    if (typeof connection !== 'string' || !(connection in this.clusters))
      throw refuse(
        'source.connection',
        `source.connection must name a configured Kafka cluster (${Object.keys(this.clusters).join(', ') || 'none configured'})`,
      );
    if (typeof topic !== 'string' || !TOPIC.test(topic))
      throw refuse('source.topic', 'source.topic must be a Kafka topic name');
    bounded(source['max_messages'], 'source.max_messages', 1, 10_000_000, 0);
    bounded(source['max_wait_ms'], 'source.max_wait_ms', 100, 3_600_000, 0);
    for (const b of this.clusters[connection]!.brokers) {
      const { host, port } = hostPort(b);
      this.egress.checkHost(host, port, 'source.connection');
    }
  }

  /** Sockets to brokers only through the policy: literal addresses checked, names in the lookup. */
  private socketFactory(): ISocketFactory {
    return ({ host, port, ssl, onConnect }) => {
      try {
        this.egress.checkHost(host, port, 'source.connection');
      } catch (err) {
        const refused = new net.Socket();
        process.nextTick(() => refused.destroy(err as Error));
        return refused;
      }
      const lookup = this.egress.lookupFor(port);
      return ssl
        ? tls.connect(
            { host, port, servername: host, lookup, ...(typeof ssl === 'object' ? ssl : {}) },
            onConnect,
          )
        : net.connect({ host, port, lookup }, onConnect);
    };
  }

  async open(source: Record<string, unknown>, signal: AbortSignal): Promise<SourceData> {
    this.check(source);
    const cluster = this.clusters[source['connection'] as string]!;
    const topic = source['topic'] as string;
    const maxMessages = bounded(source['max_messages'], '', 1, 10_000_000, 100_000);
    const maxWaitMs = bounded(source['max_wait_ms'], '', 100, 3_600_000, 30_000);
    // Names resolve and are checked up front, so a refusal is reported as such, not as a retry.
    for (const b of cluster.brokers) {
      const { host, port } = hostPort(b);
      await this.egress.resolve(host, port, 'source.connection');
    }
    const kafka = new Kafka({
      clientId: 'aion-pipeline-source',
      brokers: cluster.brokers,
      logLevel: logLevel.NOTHING,
      socketFactory: this.socketFactory(),
      retry: { retries: 2, initialRetryTime: 200 },
      connectionTimeout: 10_000,
      ...(cluster.ssl ? { ssl: true } : {}),
      ...(cluster.sasl ? { sasl: cluster.sasl as SASLOptions } : {}),
    });
    const sink = await JsonLinesSink.create(this.scratchDir);
    const groupId = `aion-pipeline-${randomUUID()}`;
    const admin = kafka.admin();
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
    try {
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(topic).catch((err: Error) => {
        throw dataError(`topic ${topic} cannot be read: ${err.message}`, [
          { field: 'source.topic', reason: 'not_found', message: err.message },
        ]);
      });
      // The end of the stream: what each partition held when the read began.
      const remaining = new Map(
        offsets
          .filter((p) => BigInt(p.high) > BigInt(p.low))
          .map((p) => [p.partition, BigInt(p.high)]),
      );
      await this.consume(consumer, topic, remaining, { maxMessages, maxWaitMs, signal }, sink);
      await sink.close();
    } catch (err) {
      await sink.abort();
      throw err;
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    }
    return { kind: 'file', path: sink.path, format: 'jsonl', release: sink.release };
  }

  private async consume(
    consumer: ReturnType<Kafka['consumer']>,
    topic: string,
    remaining: Map<number, bigint>,
    bounds: { maxMessages: number; maxWaitMs: number; signal: AbortSignal },
    sink: JsonLinesSink,
  ) {
    if (remaining.size === 0) return;
    let count = 0;
    let stopped = false;
    let finish!: (err?: unknown) => void;
    const done = new Promise<void>((ok, fail) => {
      finish = (err) => {
        stopped = true;
        if (err) fail(err);
        else ok();
      };
    });
    const timer = setTimeout(() => finish(), bounds.maxWaitMs);
    const onAbort = () => finish(bounds.signal.reason);
    bounds.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          const end = remaining.get(partition);
          if (stopped || end === undefined || BigInt(message.offset) >= end) return;
          let record: unknown;
          try {
            record = JSON.parse(message.value?.toString('utf8') ?? 'null');
          } catch (err) {
            return finish(
              dataError(
                `partition ${partition} offset ${message.offset}: the value is not JSON: ${(err as Error).message}`,
                [
                  {
                    field: `partition ${partition}, offset ${message.offset}`,
                    reason: 'malformed_json',
                    message: (err as Error).message,
                  },
                ],
              ),
            );
          }
          if (typeof record !== 'object' || record === null || Array.isArray(record))
            return finish(
              dataError(
                `partition ${partition} offset ${message.offset}: the value is not a JSON object`,
                [
                  {
                    field: `partition ${partition}, offset ${message.offset}`,
                    reason: 'not_an_object',
                    message: typeof record,
                  },
                ],
              ),
            );
          await sink.write(record as Record<string, unknown>);
          count++;
          if (BigInt(message.offset) + 1n >= end) remaining.delete(partition);
          if (remaining.size === 0 || count >= bounds.maxMessages) finish();
        },
      });
      await done;
    } finally {
      clearTimeout(timer);
      bounds.signal.removeEventListener('abort', onAbort);
    }
  }
}
