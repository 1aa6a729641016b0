import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { uniqueName } from '@aion/testing';

// The chart's topic Job (and operators) run libs/runtime/src/kafka-topics-cli.ts, bundled in
// every image as /app/tools/kafka-topics.js: here against the real local Kafka.

const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');
const cli = path.join('libs', 'runtime', 'src', 'kafka-topics-cli.ts');
const brokers = process.env['KAFKA_BROKERS'] ?? '';

async function run(args: string[], env: Record<string, string>) {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', cli, ...args],
      { cwd: repoRoot, env: { PATH: process.env['PATH'], ...env }, timeout: 90_000 },
    );
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, out: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

const singleBroker = { KAFKA_REPLICATION_FACTOR: '1', KAFKA_MIN_INSYNC_REPLICAS: '1' };

describe('kafka-topics CLI on a real Kafka', () => {
  const admin = new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  beforeAll(() => admin.connect());
  afterAll(() => admin.disconnect());

  it('creates missing topics with the partitions and min.insync.replicas asked, and leaves existing ones be', async () => {
    const topics = [uniqueName('topics-a'), uniqueName('topics-b')];
    const first = await run(['--partitions', '2', ...topics], {
      KAFKA_BROKERS: brokers,
      ...singleBroker,
    });
    expect(first).toMatchObject({ code: 0 });
    expect(first.out).toContain('topics ready (2, replication factor 1, min.insync.replicas 1)');
    const metadata = await admin.fetchTopicMetadata({ topics });
    expect(metadata.topics.map((t) => t.partitions.length)).toEqual([2, 2]);
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        { type: ConfigResourceTypes.TOPIC, name: topics[0]!, configNames: ['min.insync.replicas'] },
      ],
    });
    expect(configs.resources[0]!.configEntries[0]).toMatchObject({
      configName: 'min.insync.replicas',
      configValue: '1',
    });
    // Again, with other partitions: the topics exist and keep theirs.
    const again = await run(['--partitions', '5', ...topics], {
      KAFKA_BROKERS: brokers,
      ...singleBroker,
    });
    expect(again.code).toBe(0);
    const after = await admin.fetchTopicMetadata({ topics });
    expect(after.topics.map((t) => t.partitions.length)).toEqual([2, 2]);
  }, 120_000);

  it('creates every catalog topic and its .dlq twin when no topic is named', async () => {
    const result = await run([], { KAFKA_BROKERS: brokers, ...singleBroker });
    expect(result.code).toBe(0);
    const existing = new Set(await admin.listTopics());
    for (const topic of ['tasks.lifecycle', 'tasks.lifecycle.dlq', 'audit.activity.dlq'])
      expect(existing.has(topic)).toBe(true);
  }, 120_000);

  it('refuses a replication factor the cluster cannot hold, naming the setting, and creates nothing', async () => {
    const topic = uniqueName('topics-rf');
    const result = await run([topic], {
      KAFKA_BROKERS: brokers,
      KAFKA_REPLICATION_FACTOR: '3',
      KAFKA_MIN_INSYNC_REPLICAS: '2',
    });
    expect(result.code).toBe(1);
    expect(result.out).toContain('KAFKA_REPLICATION_FACTOR is 3 but the cluster has 1 broker(s)');
    expect(await admin.listTopics()).not.toContain(topic);
  }, 120_000);

  it('fails with the reason on bad settings and on a broker that does not answer', async () => {
    const badPartitions = await run(['--partitions', 'many'], {
      KAFKA_BROKERS: brokers,
      ...singleBroker,
    });
    expect(badPartitions).toMatchObject({ code: 1 });
    expect(badPartitions.out).toContain('--partitions must be a positive integer');
    const halfSasl = await run([], {
      KAFKA_BROKERS: brokers,
      KAFKA_SASL_MECHANISM: 'plain',
      ...singleBroker,
    });
    expect(halfSasl.code).toBe(1);
    expect(halfSasl.out).toContain('KAFKA_SASL_USERNAME');
    const unreachable = await run(['--timeout', '3', uniqueName('topics-x')], {
      KAFKA_BROKERS: '127.0.0.1:1',
      ...singleBroker,
    });
    expect(unreachable.code).toBe(1);
    expect(unreachable.out).toMatch(/kafka topics: /);
  }, 120_000);
});
