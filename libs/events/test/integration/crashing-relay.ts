/**
 * Child process for the crash test: publishes the outbox and is killed with SIGKILL after the
 * publish but before it could mark the rows, exactly the window the outbox must survive.
 */
import { openPostgres } from '@aion/db';
import { KafkaBus } from '../../src/kafka-bus';
import { OutboxRelay } from '../../src/outbox';
import { outbox } from '../fixtures/schema';

async function main(): Promise<void> {
  const [url, brokers] = [process.env['TEST_APP_URL']!, process.env['KAFKA_BROKERS']!];
  const database = openPostgres({ url, max: 2 });
  const bus = new KafkaBus({ brokers: brokers.split(','), clientId: 'crashing-relay' });
  const relay = new OutboxRelay({
    db: database.db,
    table: outbox,
    bus,
    afterPublish: () => {
      process.kill(process.pid, 'SIGKILL');
      return new Promise(() => undefined);
    },
  });
  await relay.publishBatch();
}

void main();
