import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { testBrokers, uniqueName } from '@aion/testing';
import { KafkaBus, type KafkaBusOptions } from '../../src';

const admin = new Kafka({
  brokers: testBrokers(),
  clientId: 'topics-test',
  logLevel: logLevel.NOTHING,
}).admin();
const buses: KafkaBus[] = [];
const busWith = (options: Partial<KafkaBusOptions>) => {
  const bus = new KafkaBus({ brokers: testBrokers(), clientId: uniqueName('topics'), ...options });
  buses.push(bus);
  return bus;
};

/** min.insync.replicas of a topic, and whether the topic itself sets it (not a broker default). */
async function minInsyncOf(topic: string) {
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [
      { type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['min.insync.replicas'] },
    ],
  });
  const entry = resources[0]?.configEntries.find((e) => e.configName === 'min.insync.replicas');
  return { value: entry?.configValue, setOnTopic: entry?.isDefault === false };
}

beforeAll(() => admin.connect());
afterAll(async () => {
  await Promise.all(buses.map((b) => b.close()));
  await admin.disconnect();
});

describe('topics the services create', () => {
  it('get the configured replication factor and min.insync.replicas', async () => {
    const topic = uniqueName('durable');
    await busWith({ replicationFactor: 1, minInsyncReplicas: 1 }).ensureTopics([topic]);
    const [metadata] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
    expect(metadata?.partitions.every((p) => p.replicas.length === 1)).toBe(true);
    expect(await minInsyncOf(topic)).toEqual({ value: '1', setOnTopic: true });
  });

  it('keep the broker default when no min.insync.replicas is given', async () => {
    const topic = uniqueName('plain');
    await busWith({ replicationFactor: 1 }).ensureTopics([topic]);
    expect((await minInsyncOf(topic)).setOnTopic).toBe(false);
  });

  it('are refused with an error naming the setting when there are fewer brokers than replicas', async () => {
    const topic = uniqueName('too-many-replicas');
    const attempt = busWith({ replicationFactor: 3, minInsyncReplicas: 2 }).ensureTopics([topic]);
    await expect(attempt).rejects.toThrow(
      `cannot create ${topic}: KAFKA_REPLICATION_FACTOR is 3 but the cluster has 1 broker(s)`,
    );
    expect(await admin.listTopics()).not.toContain(topic);
  });
});
