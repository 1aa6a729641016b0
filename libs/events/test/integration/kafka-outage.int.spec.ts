import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TaskStatus } from '@aion/contracts';
import { eventually, uniqueName } from '@aion/testing';
import { repoRoot } from '@aion/testing/infra/stack';
import { startLocalKafka, stopLocalKafka, type LocalKafka } from '@aion/testing/infra/local-kafka';
import { createEvent, KafkaBus, type OutgoingMessage } from '../../src';

// A broker of its own, stopped mid-test: the shared test broker serves every other suite.
const dir = mkdtempSync(path.join(os.tmpdir(), 'aion-kafka-outage-'));
let kafka: LocalKafka | undefined;
let kafkaStopped = false;
const buses: KafkaBus[] = [];

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

const newBus = (stopTimeoutMs?: number) => {
  const bus = new KafkaBus({
    brokers: [kafka!.brokers],
    clientId: uniqueName('outage'),
    ...(stopTimeoutMs ? { stopTimeoutMs } : {}),
  });
  buses.push(bus);
  return bus;
};

beforeAll(async () => {
  kafka = await startLocalKafka(dir, repoRoot);
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(buses.map((b) => b.close()));
  if (kafka && !kafkaStopped) await stopLocalKafka(kafka);
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('Kafka consumers stop within a bound when the broker is gone', () => {
  it('a consumer retrying a failing handler, then a consumer of a broker that went away, each stop within the bound', async () => {
    const bus = newBus(3_000);
    const topic = uniqueName('outage-topic');
    await bus.ensureTopics([topic]);
    // A handler that keeps failing with many attempts left (as the dead-letter recorder's 500):
    // stop must not wait for its retries to run out.
    let calls = 0;
    const retryingGroup = uniqueName('outage-retrying');
    const retrying = await bus.subscribe({
      groupId: retryingGroup,
      topics: [topic],
      maxAttempts: 500,
      retryBaseMs: 500,
      handler: async () => {
        calls++;
        throw new Error('database away');
      },
    });
    const healthy = await bus.subscribe({
      groupId: uniqueName('outage-healthy'),
      topics: [topic],
      handler: async () => undefined,
    });
    await bus.publish([event(topic, 'k-1')]);
    await eventually(() => calls >= 2 || undefined, 30_000);

    let started = Date.now();
    await retrying.stop();
    expect(Date.now() - started).toBeLessThan(4_500);
    // The record was not handled, so it was not committed: the group gets it again.
    const redelivered: string[] = [];
    const resumed = await bus.subscribe({
      groupId: retryingGroup,
      topics: [topic],
      handler: async (incoming) => void redelivered.push(incoming.key),
    });
    await eventually(() => redelivered.length > 0 || undefined, 30_000);
    expect(redelivered).toEqual(['k-1']);
    await resumed.stop();

    // The broker goes away while the other consumer is connected: its stop is bounded too.
    await stopLocalKafka(kafka!);
    kafkaStopped = true;
    await new Promise((r) => setTimeout(r, 3_000));
    started = Date.now();
    await healthy.stop();
    expect(Date.now() - started).toBeLessThan(4_500);
    started = Date.now();
    await bus.close();
    expect(Date.now() - started).toBeLessThan(4_500);
  }, 90_000);
});
