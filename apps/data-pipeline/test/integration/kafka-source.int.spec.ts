// The Kafka topic source on the real Kafka of the test infrastructure: a bounded read (to the end
// the topic had, a message count, or a time bound) ingested through the job queue.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { testBrokers, uniqueName, type TestDatabase } from '@aion/testing';
import { KafkaConnector } from '../../src/adapters/connectors/kafka-connector';
import { EgressPolicy } from '../../src/adapters/egress/egress-policy';
import type { SourceData } from '../../src/core/ports';
import { PipelineWorker } from '../../src/core/worker';
import { asTenant, migratedDatabase, pipelineCore, scratch } from './harness';

let db: TestDatabase;
let dirs: Awaited<ReturnType<typeof scratch>>;
let core: ReturnType<typeof pipelineCore>;
let connector: KafkaConnector;
const tenant = uniqueName('tenant');
const topic = uniqueName('dpl-orders');
const badTopic = uniqueName('dpl-bad');
const downloads = () => path.join(dirs.work, 'kafka-downloads');

beforeAll(async () => {
  const brokers = testBrokers();
  const kafka = new Kafka({ brokers, clientId: 'dpl-test', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic, numPartitions: 2, replicationFactor: 1 },
      { topic: badTopic, numPartitions: 1, replicationFactor: 1 },
    ],
    waitForLeaders: true,
  });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    messages: Array.from({ length: 25 }, (_, i) => ({
      key: String(i % 5),
      value: JSON.stringify({ id: i, amount: i * 2 }),
    })),
  });
  await producer.send({
    topic: badTopic,
    messages: [{ value: '{"id": 1}' }, { value: 'not json' }],
  });
  await producer.disconnect();
  // Loopback is refused unless named: the test brokers' addresses are allowed explicitly.
  const egress = EgressPolicy.parse(brokers.join(','));
  dirs = await scratch();
  connector = new KafkaConnector({ events: { brokers } }, egress, downloads());
  db = await migratedDatabase('dplkafka');
  core = pipelineCore(db, dirs, [connector]);
}, 120_000);

afterAll(async () => {
  await core?.close();
  await db?.drop();
  await dirs?.remove();
});

async function lines(source: Record<string, unknown>) {
  const data = (await connector.open(
    { type: 'kafka', connection: 'events', ...source },
    AbortSignal.timeout(60_000),
  )) as Extract<SourceData, { kind: 'file' }>;
  const text = await readFile(data.path, 'utf8');
  await data.release!();
  return text.split('\n').filter(Boolean);
}

describe('the Kafka topic source', () => {
  it('ingests a topic to its end through a job, leaving no download behind', async () => {
    const { job } = await asTenant(tenant, () =>
      core.jobs.submit({
        type: 'ingest',
        source: { type: 'kafka', connection: 'events', topic },
        spec: {},
        dataContext: {},
        datasetName: '',
        idempotencyKey: '',
      }),
    );
    const worker = new PipelineWorker(core.store, core.stages, {
      owner: 'kafka',
      leaseMs: 60_000,
      pollMs: 50,
      stageTimeoutMs: 60_000,
      retryBaseMs: 10,
      retryMaxMs: 20,
    });
    while (await worker.runOnce());
    const done = await asTenant(tenant, () => core.jobs.get(job.id));
    expect(done).toMatchObject({ status: 'succeeded', rowsProcessed: 25 });
    expect(await readdir(downloads())).toEqual([]);
  }, 90_000);

  it('stops at max_messages, and within max_wait_ms', async () => {
    expect(await lines({ topic, max_messages: 10 })).toHaveLength(10);
    const started = Date.now();
    const some = await lines({ topic, max_wait_ms: 200 });
    expect(some.length).toBeLessThanOrEqual(25);
    // The bound stops the read; leaving a group still joining takes seconds on top (measured
    // ~10 s here), so the bound checked is loose: the read does not wait for the topic's end.
    expect(Date.now() - started).toBeLessThan(45_000);
  }, 90_000);

  it('refuses a value that is not JSON naming partition and offset, and an unknown topic', async () => {
    await expect(lines({ topic: badTopic })).rejects.toMatchObject({
      code: 'validation.unprocessable',
      details: [{ field: 'partition 0, offset 1', reason: 'malformed_json' }],
    });
    await expect(lines({ topic: uniqueName('dpl-none') })).rejects.toMatchObject({
      details: [{ field: 'source.topic' }],
    });
    expect(await readdir(downloads())).toEqual([]);
  }, 90_000);

  it('refuses brokers the egress allowlist does not admit, and unknown clusters', () => {
    const strict = new KafkaConnector(
      { events: { brokers: testBrokers() } },
      EgressPolicy.parse('*'),
      downloads(),
    );
    expect(() => strict.check({ type: 'kafka', connection: 'events', topic })).toThrow(
      /a loopback address/,
    );
    expect(() => connector.check({ type: 'kafka', connection: 'other', topic })).toThrow(
      /Kafka cluster other was not found/,
    );
    expect(() =>
      connector.check({ type: 'kafka', connection: 'events', topic, max_messages: 0 }),
    ).toThrow(/source.max_messages/);
  });
});
