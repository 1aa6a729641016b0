/**
 * Child process for the publish-after-commit crash tests: commits an order and its event through
 * a writer whose relay publishes after commit, and is killed with SIGKILL at the moment named by
 * TEST_CRASH_AT: `publish` (committed, not yet sent to the broker) or `mark` (sent, not marked).
 */
import { openPostgres, withTenant } from '@aion/db';
import { TaskStatus } from '@aion/contracts';
import { runWithTenant } from '@aion/tenancy';
import { KafkaBus } from '../../src/kafka-bus';
import type { OutgoingMessage } from '../../src/envelope';
import { OutboxRelay, OutboxWriter } from '../../src/outbox';
import { orders, outbox } from '../fixtures/schema';

const die = () => {
  process.kill(process.pid, 'SIGKILL');
  return new Promise<never>(() => undefined);
};

async function main(): Promise<void> {
  const [url, brokers, crashAt, orderId] = [
    process.env['TEST_APP_URL']!,
    process.env['KAFKA_BROKERS']!,
    process.env['TEST_CRASH_AT']!,
    process.env['TEST_ORDER_ID']!,
  ];
  const ours = (message: OutgoingMessage) => message.key === orderId;
  const database = openPostgres({ url, max: 2 });
  const kafka = new KafkaBus({ brokers: brokers.split(','), clientId: 'crashing-publisher' });
  const relay = new OutboxRelay({
    db: database.db,
    table: outbox,
    // Polls never come: only the publish after commit can send the row.
    pollIntervalMs: 600_000,
    bus: {
      publish: (messages) =>
        crashAt === 'publish' && messages.some(ours) ? die() : kafka.publish(messages),
      subscribe: (options) => kafka.subscribe(options),
      ensureTopics: (topics) => kafka.ensureTopics(topics),
      ping: () => kafka.ping(),
      close: () => kafka.close(),
    },
    afterPublish: (messages) => (crashAt === 'mark' && messages.some(ours) ? die() : undefined),
  });
  relay.start();
  // Let the relay's first look (it takes what earlier runs left) pass before writing.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const writer = new OutboxWriter(outbox, 'aion/test', relay);
  await runWithTenant(
    { tenantId: 'tenant-a', subject: 'test', roles: [], requestId: orderId },
    () =>
      withTenant(database.db, 'tenant-a', async (tx) => {
        await tx.insert(orders).values({ id: orderId, tenantId: 'tenant-a', state: 'placed' });
        await writer.add(tx, {
          type: 'task.state_changed',
          key: orderId,
          payload: { taskId: orderId, fromStatus: TaskStatus.QUEUED, toStatus: TaskStatus.OK },
        });
      }),
  );
  // Killed by now (the publish follows the commit at once); if not, the test fails on the exit.
  await new Promise((resolve) => setTimeout(resolve, 10_000));
}

void main();
