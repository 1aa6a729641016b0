import { Kafka, logLevel } from 'kafkajs';

export function testBrokers(): string[] {
  const brokers = process.env['KAFKA_BROKERS'];
  if (!brokers)
    throw new Error(
      'no Kafka for tests: run through jest.integration.config.cjs (global setup) or set KAFKA_BROKERS',
    );
  return brokers.split(',');
}

/**
 * Durability of the topics services create, for the test broker: the test setup's
 * KAFKA_REPLICATION_FACTOR and KAFKA_MIN_INSYNC_REPLICAS, else 1 and 1 (the local stack is one
 * broker; the production defaults, 3 and 2, would be refused there).
 */
export function testKafkaTopicEnv(): {
  KAFKA_REPLICATION_FACTOR: string;
  KAFKA_MIN_INSYNC_REPLICAS: string;
} {
  return {
    KAFKA_REPLICATION_FACTOR: process.env['KAFKA_REPLICATION_FACTOR'] ?? '1',
    KAFKA_MIN_INSYNC_REPLICAS: process.env['KAFKA_MIN_INSYNC_REPLICAS'] ?? '1',
  };
}

/** How many records a topic holds (sum over partitions of high - low watermark). */
export async function topicMessageCount(brokers: string[], topic: string): Promise<number> {
  const admin = new Kafka({
    brokers,
    clientId: 'aion-test-admin',
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } catch {
    return 0;
  } finally {
    await admin.disconnect();
  }
}
