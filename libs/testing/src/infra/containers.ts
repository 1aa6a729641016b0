import { spawnSync } from 'node:child_process';
import { freePort } from './processes';

/** True when a Docker engine answers (the docker CLI alone is not enough). */
export function dockerEngineAnswers(): boolean {
  if (process.env['AION_TEST_NO_DOCKER'] === '1') return false;
  const result = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], {
    encoding: 'utf8',
    timeout: 5000,
  });
  return result.status === 0 && result.stdout.trim().length > 0;
}

export interface StartedContainers {
  env: { adminUrl?: string; redisUrl?: string; kafkaBrokers?: string };
  stop(): Promise<void>;
}

/** Starts the services that `needs` names as containers (testcontainers). */
export async function startContainers(needs: {
  postgres: boolean;
  redis: boolean;
  kafka: boolean;
}): Promise<StartedContainers> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const started: { stop(): Promise<unknown> }[] = [];
  const env: StartedContainers['env'] = {};
  if (needs.postgres) {
    const pg = await new GenericContainer('postgres:15')
      .withEnvironment({ POSTGRES_PASSWORD: 'postgres' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start();
    started.push(pg);
    env.adminUrl = `postgres://postgres:postgres@${pg.getHost()}:${pg.getMappedPort(5432)}/postgres`;
  }
  if (needs.redis) {
    const redis = await new GenericContainer('redis:7')
      .withExposedPorts(6379)
      .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
      .start();
    started.push(redis);
    env.redisUrl = `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`;
  }
  if (needs.kafka) {
    // Kafka advertises its own address, so bind a known host port and advertise exactly that.
    const port = await freePort();
    const kafka = await new GenericContainer('apache/kafka:3.9.1')
      .withExposedPorts({ container: port, host: port })
      .withEnvironment({
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_LISTENERS: `PLAINTEXT://0.0.0.0:${port},CONTROLLER://0.0.0.0:9093`,
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${port}`,
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        KAFKA_NUM_PARTITIONS: '3',
      })
      .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
      .start();
    started.push(kafka);
    env.kafkaBrokers = `127.0.0.1:${port}`;
  }
  return {
    env,
    stop: async () => {
      await Promise.all(started.map((c) => c.stop()));
    },
  };
}
