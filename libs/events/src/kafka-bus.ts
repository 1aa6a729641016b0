import {
  Kafka,
  logLevel,
  type Admin,
  type Consumer,
  type IHeaders,
  type LogEntry,
  type Producer,
} from 'kafkajs';
import type { Logger, ServiceMetrics } from '@aion/telemetry';
import type { EventBus, SubscribeOptions, Subscription } from './bus';
import { MemoryDeduper } from './dedupe';
import type { OutgoingMessage } from './envelope';
import type { KafkaSecurity } from './kafka-security';
import { processRecord } from './pipeline';

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  logger?: Logger;
  metrics?: ServiceMetrics;
  /** TLS and SASL to the brokers (kafkaSecurity()); plaintext without. */
  security?: KafkaSecurity;
  /** Partitions for topics this bus creates (default 3). */
  partitions?: number;
  /** Replicas of topics this bus creates (KAFKA_REPLICATION_FACTOR; default 1). */
  replicationFactor?: number;
  /** min.insync.replicas of topics this bus creates (KAFKA_MIN_INSYNC_REPLICAS; default: the broker's). */
  minInsyncReplicas?: number;
  /**
   * Longest wait for a consumer to leave its group on stop (default 5 s). A consumer whose broker
   * is away may never finish disconnecting; past the bound it is abandoned (the process is
   * ending) and its group rebalances after the session timeout.
   */
  stopTimeoutMs?: number;
}

/** Resolves true when `promise` settled within `ms`, false when the wait was given up. */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The error kafkajs reports, or one it wraps (aggregated per topic, or inside a retry error). */
function kafkaErrorOfType(err: unknown, type: string): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { type?: unknown; errors?: unknown; originalError?: unknown; cause?: unknown };
  if (e.type === type) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => kafkaErrorOfType(inner, type)))
    return true;
  return [e.originalError, e.cause].some((inner) => inner !== err && kafkaErrorOfType(inner, type));
}

function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined)
      out[key] = Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
  }
  return out;
}

/** kafkajs writes its own log lines; route them through the service's JSON logger. */
function logCreator(logger: Logger | undefined) {
  return () => (entry: LogEntry) => {
    if (!logger) return;
    const { message, ...extra } = entry.log;
    const level =
      entry.level === logLevel.ERROR ? 'error' : entry.level === logLevel.WARN ? 'warn' : 'debug';
    logger.log(level, `kafka: ${message}`, { namespace: entry.namespace, ...extra });
  };
}

/**
 * Kafka through kafkajs: an idempotent producer (acks=all, one request in flight, so retries
 * neither duplicate nor reorder) and consumer groups that commit an offset only after the
 * record went through the pipeline (handled, deduped, or dead-lettered).
 */
export class KafkaBus implements EventBus {
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly admin: Admin;
  /** Open consumers, each with what ends the retries of the record it has in hand. */
  private readonly consumers = new Map<Consumer, AbortController>();
  private connected?: Promise<void>;

  constructor(private readonly options: KafkaBusOptions) {
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      logLevel: logLevel.WARN,
      logCreator: logCreator(options.logger),
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 5000 },
      ...options.security,
    });
    this.producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: true,
    });
    this.admin = this.kafka.admin();
  }

  /**
   * Connects producer and admin once; later calls wait for the same connection. A failed
   * attempt is forgotten, so a bus that started while Kafka was away connects once it is back.
   */
  connect(): Promise<void> {
    if (!this.connected) {
      const attempt = Promise.all([this.producer.connect(), this.admin.connect()]).then(
        () => undefined,
      );
      this.connected = attempt;
      attempt.catch(() => {
        if (this.connected === attempt) this.connected = undefined;
      });
    }
    return this.connected;
  }

  /**
   * Creates topics that do not exist yet (production clusters often disable auto-creation).
   * Replicas may race to create the same topic; losing that race, or asking while its
   * leaders are still being elected, is retried until the topics are usable.
   */
  async ensureTopics(topics: string[], timeoutMs = 15_000): Promise<void> {
    await this.connect();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const existing = new Set(await this.admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t));
      try {
        if (missing.length) {
          await this.admin.createTopics({
            waitForLeaders: true,
            topics: missing.map((topic) => ({
              topic,
              numPartitions: this.options.partitions ?? 3,
              replicationFactor: this.options.replicationFactor ?? 1,
              configEntries:
                this.options.minInsyncReplicas === undefined
                  ? []
                  : [
                      {
                        name: 'min.insync.replicas',
                        value: String(this.options.minInsyncReplicas),
                      },
                    ],
            })),
          });
        }
        await this.admin.fetchTopicMetadata({ topics });
        return;
      } catch (err) {
        if (kafkaErrorOfType(err, 'INVALID_REPLICATION_FACTOR'))
          throw await this.replicationFactorError(missing, err);
        const type = (err as { type?: string }).type;
        const transient =
          type === 'TOPIC_ALREADY_EXISTS' ||
          type === 'UNKNOWN_TOPIC_OR_PARTITION' ||
          type === 'LEADER_NOT_AVAILABLE';
        if (!transient || Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  /** Names the setting: the broker only says the factor is invalid, not why. */
  private async replicationFactorError(topics: string[], cause: unknown): Promise<Error> {
    const brokers = await this.admin
      .describeCluster()
      .then((cluster) => String(cluster.brokers.length))
      .catch(() => 'fewer');
    return new Error(
      `cannot create ${topics.join(', ')}: KAFKA_REPLICATION_FACTOR is ${this.options.replicationFactor ?? 1} but the cluster has ${brokers} broker(s); lower KAFKA_REPLICATION_FACTOR (and KAFKA_MIN_INSYNC_REPLICAS) or add brokers`,
      { cause },
    );
  }

  async publish(messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.connect();
    const byTopic = new Map<string, OutgoingMessage[]>();
    for (const m of messages) byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), m]);
    await this.producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic.entries()].map(([topic, list]) => ({
        topic,
        messages: list.map((m) => ({
          key: m.key,
          value: Buffer.from(m.value),
          headers: m.headers,
        })),
      })),
    });
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    await this.connect();
    // Ends the retries of a record in hand when the subscription stops.
    const stopping = new AbortController();
    const consumer = this.kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: true,
      sessionTimeout: 30_000,
      heartbeatInterval: 3000,
      // A consumer that crashed (its broker went away) restarts, unless it is being stopped: an
      // abandoned consumer must not go on reconnecting for the rest of the process.
      retry: {
        retries: 8,
        initialRetryTime: 100,
        maxRetryTime: 5000,
        restartOnFailure: async () => !stopping.signal.aborted,
      },
    });
    this.consumers.set(consumer, stopping);
    await consumer.connect();
    await consumer.subscribe({
      topics: options.topics,
      fromBeginning: options.fromBeginning ?? true,
    });
    const deduper = options.deduper ?? new MemoryDeduper();
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message, heartbeat }) => {
        const committable = await processRecord(
          {
            topic,
            partition,
            offset: message.offset,
            key: message.key?.toString('utf8') ?? '',
            value: message.value,
            headers: headersToStrings(message.headers),
          },
          options,
          {
            deduper,
            logger: this.options.logger,
            metrics: this.options.metrics,
            heartbeat,
            publishDeadLetter: (m) => this.publish([m]),
            signal: stopping.signal,
          },
        );
        // A record left unhandled by a stop is not committed: the group gets it again.
        if (committable && !options.ephemeral)
          await consumer.commitOffsets([
            { topic, partition, offset: (BigInt(message.offset) + 1n).toString() },
          ]);
      },
    });
    return {
      stop: async () => {
        // disconnect waits for the running eachMessage, whose offset is committed inside it.
        await this.disconnectWithin(consumer, options.groupId);
        if (options.ephemeral) {
          const deleted = this.admin.deleteGroups([options.groupId]).catch((err: unknown) =>
            this.options.logger?.warn('could not delete an ephemeral consumer group', {
              group: options.groupId,
              reason: err instanceof Error ? err.message : String(err),
            }),
          );
          if (!(await settlesWithin(deleted, this.stopTimeoutMs)))
            this.options.logger?.warn('gave up deleting an ephemeral consumer group', {
              group: options.groupId,
            });
        }
      },
    };
  }

  async ping(): Promise<void> {
    await this.connect();
    await this.admin.describeCluster();
  }

  private get stopTimeoutMs(): number {
    return this.options.stopTimeoutMs ?? 5_000;
  }

  /**
   * Disconnects a consumer, giving up after the stop bound: kafkajs may keep retrying its broker
   * connections for minutes while the broker is away, and a shutdown must not wait for that.
   */
  private async disconnectWithin(consumer: Consumer, groupId: string): Promise<void> {
    this.consumers.get(consumer)?.abort();
    this.consumers.delete(consumer);
    if (!(await settlesWithin(consumer.disconnect(), this.stopTimeoutMs)))
      this.options.logger?.warn('Kafka consumer did not disconnect in time; abandoned', {
        group: groupId,
        timeout_ms: this.stopTimeoutMs,
      });
  }

  async close(): Promise<void> {
    await Promise.all([...this.consumers.keys()].map((c) => this.disconnectWithin(c, 'unknown')));
    if (this.connected)
      await settlesWithin(
        Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]),
        this.stopTimeoutMs,
      );
    this.connected = undefined;
  }
}
