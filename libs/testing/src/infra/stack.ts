import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { dockerEngineAnswers, startContainers } from './containers';
import { startLocalKafka, stopLocalKafka } from './local-kafka';
import { startLocalPostgres, stopLocalPostgres } from './local-postgres';
import { startLocalRedis, stopLocalRedis } from './local-redis';

export const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');

/** What tests read: a superuser PostgreSQL URL (to create roles and databases), Redis and Kafka. */
export interface InfraEnv {
  AION_TEST_PG_ADMIN_URL: string;
  REDIS_URL: string;
  KAFKA_BROKERS: string;
  /** Topics the services create: 1 and 1 on the single local broker (production: 3 and 2). */
  KAFKA_REPLICATION_FACTOR: string;
  KAFKA_MIN_INSYNC_REPLICAS: string;
}

/** Everything needed to stop what was started, serialisable for a persistent dev stack. */
export interface InfraState {
  env: InfraEnv;
  provider: Record<'postgres' | 'redis' | 'kafka', 'external' | 'docker' | 'local'>;
  stackDir?: string;
  postgres?: { binDir: string; dataDir: string };
  redisPid?: number;
  kafkaPid?: number;
}

export interface InfraHandle {
  state: InfraState;
  stop(): Promise<void>;
}

/** Roles every test database uses: an owner that migrates and a non-owner the services run as. */
export const TEST_ROLES = { owner: 'aion_owner', app: 'aion_app' } as const;

/** Creates the test roles (TEST_ROLES) on a server that lacks them. */
export async function ensureRoles(adminUrl: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    for (const role of [TEST_ROLES.owner, TEST_ROLES.app]) {
      const exists = await client.query('select 1 from pg_roles where rolname = $1', [role]);
      if (exists.rowCount === 0) {
        // Test-only roles; the password equals the name. NOBYPASSRLS is what makes RLS bind.
        await client.query(
          `create role ${role} login password '${role}' nosuperuser nobypassrls ${role === TEST_ROLES.owner ? 'createdb' : ''}`,
        );
      }
    }
  } finally {
    await client.end();
  }
}

/**
 * Provides PostgreSQL 15, Redis 7 and Kafka 3.9 (KRaft) for integration tests, in this order of
 * preference for each: the URL in the environment; containers when a Docker engine answers;
 * local servers on free ports in a temp directory.
 */
export async function startInfra(
  options: { stackDir?: string; log?: (line: string) => void } = {},
): Promise<InfraHandle> {
  const log = options.log ?? (() => undefined);
  const external = {
    postgres: process.env['DATABASE_URL'],
    redis: process.env['REDIS_URL'],
    kafka: process.env['KAFKA_BROKERS'],
  };
  const missing = { postgres: !external.postgres, redis: !external.redis, kafka: !external.kafka };
  const state: InfraState = {
    env: {
      AION_TEST_PG_ADMIN_URL: external.postgres ?? '',
      REDIS_URL: external.redis ?? '',
      KAFKA_BROKERS: external.kafka ?? '',
      // An external Kafka may have more brokers and say so; the stacks started here have one.
      KAFKA_REPLICATION_FACTOR: process.env['KAFKA_REPLICATION_FACTOR'] ?? '1',
      KAFKA_MIN_INSYNC_REPLICAS: process.env['KAFKA_MIN_INSYNC_REPLICAS'] ?? '1',
    },
    provider: { postgres: 'external', redis: 'external', kafka: 'external' },
  };
  const stops: (() => Promise<void>)[] = [];

  try {
    if ((missing.postgres || missing.redis || missing.kafka) && dockerEngineAnswers()) {
      log('starting test infrastructure with testcontainers');
      const containers = await startContainers(missing);
      stops.push(() => containers.stop());
      if (containers.env.adminUrl) {
        state.env.AION_TEST_PG_ADMIN_URL = containers.env.adminUrl;
        state.provider.postgres = 'docker';
      }
      if (containers.env.redisUrl) {
        state.env.REDIS_URL = containers.env.redisUrl;
        state.provider.redis = 'docker';
      }
      if (containers.env.kafkaBrokers) {
        state.env.KAFKA_BROKERS = containers.env.kafkaBrokers;
        state.provider.kafka = 'docker';
      }
    } else if (missing.postgres || missing.redis || missing.kafka) {
      const stackDir = options.stackDir ?? mkdtempSync(path.join(os.tmpdir(), 'aion-infra-'));
      state.stackDir = stackDir;
      log(`starting local test infrastructure in ${stackDir}`);
      const [pg, redis, kafka] = await Promise.all([
        missing.postgres ? startLocalPostgres(stackDir) : undefined,
        missing.redis ? startLocalRedis(stackDir) : undefined,
        missing.kafka ? startLocalKafka(stackDir, repoRoot) : undefined,
      ]);
      if (pg) {
        state.env.AION_TEST_PG_ADMIN_URL = pg.adminUrl;
        state.provider.postgres = 'local';
        state.postgres = { binDir: pg.binDir, dataDir: pg.dataDir };
      }
      if (redis) {
        state.env.REDIS_URL = redis.url;
        state.provider.redis = 'local';
        state.redisPid = redis.pid;
      }
      if (kafka) {
        state.env.KAFKA_BROKERS = kafka.brokers;
        state.provider.kafka = 'local';
        state.kafkaPid = kafka.pid;
      }
    }
    await ensureRoles(state.env.AION_TEST_PG_ADMIN_URL);
  } catch (err) {
    await stopInfra(state, stops);
    throw err;
  }
  return { state, stop: () => stopInfra(state, stops) };
}

export async function stopInfra(
  state: InfraState,
  extraStops: (() => Promise<void>)[] = [],
): Promise<void> {
  await Promise.allSettled([
    ...extraStops.map((stop) => stop()),
    state.kafkaPid ? stopLocalKafka({ pid: state.kafkaPid }) : Promise.resolve(),
    state.redisPid ? stopLocalRedis({ pid: state.redisPid }) : Promise.resolve(),
    Promise.resolve().then(() => state.postgres && stopLocalPostgres(state.postgres)),
  ]);
  if (state.stackDir && !process.env['AION_KEEP_INFRA_DIR'])
    rmSync(state.stackDir, { recursive: true, force: true });
}
