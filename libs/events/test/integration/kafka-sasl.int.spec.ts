import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TaskStatus } from '@aion/contracts';
import { eventually, uniqueName } from '@aion/testing';
import { repoRoot } from '@aion/testing/infra/stack';
import { startLocalKafka, stopLocalKafka, type LocalKafka } from '@aion/testing/infra/local-kafka';
import { createEvent, KafkaBus, kafkaSecurity, type IncomingEvent } from '../../src';

// A broker of its own: the shared test broker has no SASL listener.
const dir = mkdtempSync(path.join(os.tmpdir(), 'aion-kafka-sasl-'));
const PASSWORD = 'sasl-test-password';
let kafka: LocalKafka;
const buses: KafkaBus[] = [];

const busAs = (username: string, password: string) => {
  const bus = new KafkaBus({
    brokers: [kafka.saslBrokers!],
    clientId: uniqueName('sasl'),
    replicationFactor: 1,
    minInsyncReplicas: 1,
    security: kafkaSecurity({
      ssl: false,
      saslMechanism: 'plain',
      saslUsername: username,
      saslPassword: password,
    }),
  });
  buses.push(bus);
  return bus;
};

beforeAll(async () => {
  kafka = await startLocalKafka(dir, repoRoot, { saslPlainUsers: { aion: PASSWORD } });
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(buses.map((b) => b.close()));
  if (kafka) await stopLocalKafka(kafka);
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('Kafka over SASL/PLAIN', () => {
  it('produces and consumes as a user the broker knows', async () => {
    const bus = busAs('aion', PASSWORD);
    const topic = uniqueName('sasl-topic');
    await bus.ensureTopics([topic]);
    const received: IncomingEvent[] = [];
    const subscription = await bus.subscribe({
      groupId: uniqueName('sasl-group'),
      topics: [topic],
      handler: async (incoming) => void received.push(incoming),
    });
    const { message } = createEvent({
      type: 'task.state_changed',
      source: 'test',
      key: 't-1',
      tenantId: 'acme',
      payload: { taskId: 't-1', fromStatus: TaskStatus.RUNNING, toStatus: TaskStatus.OK },
    });
    await bus.publish([{ ...message, topic }]);
    await eventually(() => received.length === 1, 30_000);
    expect(received[0]?.key).toBe('t-1');
    await subscription.stop();
  }, 60_000);

  it('is refused with a wrong password or an unknown user', async () => {
    await expect(busAs('aion', 'not-the-password').ping()).rejects.toThrow(
      /SASL PLAIN authentication failed/i,
    );
    await expect(busAs('mallory', PASSWORD).ping()).rejects.toThrow(
      /SASL PLAIN authentication failed/i,
    );
  }, 60_000);
});
