import { Kafka } from 'kafkajs';
import { TaskStatus } from '@aion/contracts';
import { eventually, topicMessageCount, uniqueName } from '@aion/testing';
import {
  createEvent,
  DLQ_HEADERS,
  KafkaBus,
  type IncomingEvent,
  type OutgoingMessage,
} from '../../src';

const brokers = () => (process.env['KAFKA_BROKERS'] ?? '').split(',');

function event(topic: string, key: string): OutgoingMessage {
  const { message } = createEvent({
    type: 'task.state_changed',
    source: 'test',
    key,
    tenantId: 'acme',
    payload: { taskId: key, fromStatus: TaskStatus.RUNNING, toStatus: TaskStatus.OK },
  });
  return { ...message, topic };
}

describe('KafkaBus on a real broker', () => {
  const buses: KafkaBus[] = [];
  const newBus = () => {
    const bus = new KafkaBus({ brokers: brokers(), clientId: uniqueName('client') });
    buses.push(bus);
    return bus;
  };

  afterAll(async () => {
    await Promise.all(buses.map((b) => b.close()));
  });

  it('answers readiness pings and creates topics idempotently', async () => {
    const bus = newBus();
    await bus.ping();
    const topic = uniqueName('provisioned');
    await bus.ensureTopics([topic, `${topic}.dlq`]);
    await bus.ensureTopics([topic]);
  });

  it('shares a topic among the consumers of one group and delivers every event', async () => {
    const topic = uniqueName('shared');
    const producer = newBus();
    await producer.ensureTopics([topic]);
    const groupId = uniqueName('group');
    const seen = new Map<string, number>();
    const handler = async (e: IncomingEvent) => void seen.set(e.key, (seen.get(e.key) ?? 0) + 1);
    const first = await newBus().subscribe({ groupId, topics: [topic], handler });
    const second = await newBus().subscribe({ groupId, topics: [topic], handler });
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    await producer.publish(keys.map((k) => event(topic, k)));
    await eventually(() => seen.size === keys.length, 45_000);
    expect([...seen.keys()].sort()).toEqual([...keys].sort());
    await Promise.all([first.stop(), second.stop()]);
  });

  it('leaves nothing behind for an ephemeral group: no committed offsets, and the group is deleted on stop', async () => {
    const topic = uniqueName('broadcast');
    const producer = newBus();
    await producer.ensureTopics([topic]);
    const groupId = uniqueName('replica');
    const seen: string[] = [];
    const subscription = await newBus().subscribe({
      groupId,
      topics: [topic],
      fromBeginning: true,
      ephemeral: true,
      handler: async (e) => void seen.push(e.key),
    });
    await producer.publish([event(topic, 'a'), event(topic, 'b')]);
    await eventually(() => seen.length === 2, 45_000);
    const admin = new Kafka({ brokers: brokers(), clientId: uniqueName('admin') }).admin();
    await admin.connect();
    try {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      expect(offsets!.partitions.every((p) => p.offset === '-1')).toBe(true);
      await subscription.stop();
      const { groups } = await admin.listGroups();
      expect(groups.map((g) => g.groupId)).not.toContain(groupId);
    } finally {
      await admin.disconnect();
    }
  });

  it('commits only processed offsets: a restarted group resumes where it stopped', async () => {
    const topic = uniqueName('resume');
    const groupId = uniqueName('group');
    const producer = newBus();
    await producer.ensureTopics([topic]);
    const seen: string[] = [];
    const handler = async (e: IncomingEvent) => void seen.push(e.key);
    await producer.publish(['a', 'b', 'c'].map((k) => event(topic, k)));
    const first = await newBus().subscribe({ groupId, topics: [topic], handler });
    await eventually(() => seen.length === 3, 30_000);
    await first.stop();
    await producer.publish(['d', 'e'].map((k) => event(topic, k)));
    const second = await newBus().subscribe({ groupId, topics: [topic], handler });
    await eventually(() => seen.length >= 5, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(seen.sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    await second.stop();
  });

  it('dead-letters a failing message with error metadata, and a replay from the DLQ succeeds', async () => {
    const topic = uniqueName('orders');
    const producer = newBus();
    await producer.ensureTopics([topic, `${topic}.dlq`]);
    let broken = true;
    const handled: string[] = [];
    const consumer = await newBus().subscribe({
      groupId: uniqueName('group'),
      topics: [topic],
      maxAttempts: 3,
      retryBaseMs: 10,
      handler: async (e) => {
        if (e.key === 'poison' && broken) throw new Error('downstream rejected it');
        handled.push(e.key);
      },
    });
    const dead: IncomingEvent[] = [];
    const dlqReader = await newBus().subscribe({
      groupId: uniqueName('dlq-reader'),
      topics: [`${topic}.dlq`],
      handler: async (e) => void dead.push(e),
    });
    await producer.publish([event(topic, 'poison'), event(topic, 'fine')]);
    await eventually(() => dead.length === 1 && handled.includes('fine'), 45_000);
    const letter = dead[0]!;
    expect(letter.headers[DLQ_HEADERS.error]).toBe('downstream rejected it');
    expect(letter.headers[DLQ_HEADERS.attempts]).toBe('3');
    expect(letter.headers[DLQ_HEADERS.originalTopic]).toBe(topic);
    expect(letter.key).toBe('poison');
    expect(handled).not.toContain('poison');
    // Replay: once the consumer is fixed, the original bytes go back to the original topic.
    broken = false;
    await producer.publish([
      {
        topic: letter.headers[DLQ_HEADERS.originalTopic]!,
        key: letter.key,
        value: letter.value,
        headers: {},
      },
    ]);
    await eventually(() => handled.includes('poison'), 30_000);
    await Promise.all([consumer.stop(), dlqReader.stop()]);
  });

  it('dead-letters a record that is not an envelope at once, without calling the handler', async () => {
    const topic = uniqueName('garbage');
    const producer = newBus();
    await producer.ensureTopics([topic, `${topic}.dlq`]);
    let calls = 0;
    const consumer = await newBus().subscribe({
      groupId: uniqueName('group'),
      topics: [topic],
      handler: async () => void calls++,
    });
    await producer.publish([
      { topic, key: 'x', value: Buffer.from('{"json":"not protobuf"}'), headers: {} },
    ]);
    await eventually(
      async () => (await topicMessageCount(brokers(), `${topic}.dlq`)) === 1,
      30_000,
    );
    expect(calls).toBe(0);
    await consumer.stop();
  });
});
