import { Kafka, logLevel } from 'kafkajs';

export function testBrokers(): string[] {
  const brokers = process.env['KAFKA_BROKERS'];
  if (!brokers)
    throw new Error(
      'no Kafka for tests: run through jest.integration.config.cjs (global setup) or set KAFKA_BROKERS',
    );
  return brokers.split(',');
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
