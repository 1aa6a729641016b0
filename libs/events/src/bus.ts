import type { EventEnvelope } from '@aion/contracts';
import type { OutgoingMessage } from './envelope';

/** A delivered event, with where it came from. */
export interface IncomingEvent {
  envelope: EventEnvelope;
  topic: string;
  partition: number;
  offset: string;
  key: string;
  /** The record's bytes as produced (what a dead-letter store keeps for replay). */
  value: Uint8Array;
  headers: Record<string, string>;
}

export type EventHandler = (event: IncomingEvent) => Promise<void>;

/** Remembers which events a consumer group has processed, so redeliveries are skipped. */
export interface Deduper {
  isProcessed(groupId: string, eventId: string): Promise<boolean>;
  markProcessed(groupId: string, eventId: string): Promise<void>;
}

export interface SubscribeOptions {
  groupId: string;
  topics: string[];
  handler: EventHandler;
  /** Attempts before a message goes to `<topic>.dlq` (default 5). */
  maxAttempts?: number;
  /** Base of the exponential retry backoff (default 200 ms). */
  retryBaseMs?: number;
  /** Default: an in-memory LRU. Handlers that need exactly-once effects also use `processOnce`. */
  deduper?: Deduper;
  /** Start from the earliest offset when the group has none (default true). */
  fromBeginning?: boolean;
  /**
   * A group that lives only as long as this subscription (one per replica, to see every event):
   * no offsets are committed and the group is deleted on stop, so restarts do not leave groups
   * behind in Kafka for the offsets retention period (7 days by default).
   */
  ephemeral?: boolean;
}

export interface Subscription {
  /** Stops fetching, lets the in-flight message finish and commits its offset. */
  stop(): Promise<void>;
}

/**
 * The port services publish and consume through: Kafka in production, the in-memory bus in the
 * embedded default. Both deliver at least once; consumers dedupe by event id.
 */
export interface EventBus {
  publish(messages: OutgoingMessage[]): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** Creates the topics that do not exist yet (clusters often disable auto-creation). */
  ensureTopics(topics: string[]): Promise<void>;
  /** Readiness: the bus can reach its brokers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Headers a dead-lettered message carries, next to its original headers. */
export const DLQ_HEADERS = {
  error: 'aion-dlq-error',
  attempts: 'aion-dlq-attempts',
  originalTopic: 'aion-dlq-original-topic',
  originalPartition: 'aion-dlq-original-partition',
  originalOffset: 'aion-dlq-original-offset',
  consumerGroup: 'aion-dlq-consumer-group',
  failedAt: 'aion-dlq-failed-at',
} as const;
