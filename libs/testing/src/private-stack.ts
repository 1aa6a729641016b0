import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startLocalKafka, stopLocalKafka, type LocalKafka } from './infra/local-kafka';
import { startLocalPostgres, stopLocalPostgres, type LocalPostgres } from './infra/local-postgres';
import { ensureRoles, repoRoot } from './infra/stack';
import type { PlatformInfra } from './platform';
import { startPrivateRedis, type PrivateRedis } from './private-redis';

/** A server a test stops and starts again, on the same port and (PostgreSQL, Kafka) the same data. */
export interface RestartableServer {
  /** Stops it: PostgreSQL at once (`pg_ctl -m immediate`), Kafka and Redis with SIGTERM. */
  stop(): Promise<void>;
  /** Starts it again where it was; resolves once its port answers. */
  start(): Promise<void>;
}

/** PostgreSQL, Redis and Kafka of one suite's own, which it may stop without disturbing others. */
export interface PrivateStack {
  infra: PlatformInfra;
  postgres: RestartableServer;
  redis: RestartableServer;
  kafka: RestartableServer;
  /** Stops all three for good and removes their directory. */
  close(): Promise<void>;
}

/**
 * Outage tests (the chaos suite) stop PostgreSQL, Redis and Kafka: on the shared test servers
 * that would break every suite running beside them. Needs the local binaries the test setup uses
 * (`npm run infra:install`): PostgreSQL's server, redis-server, Java with the Kafka jars.
 */
export async function startPrivateStack(): Promise<PrivateStack> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aion-private-stack-'));
  let pg: LocalPostgres | undefined;
  let pgUp = false;
  let kafka: LocalKafka | undefined;
  let kafkaUp = false;
  let redis: PrivateRedis | undefined;
  const close = async () => {
    await Promise.allSettled([
      kafka && kafkaUp ? stopLocalKafka(kafka) : undefined,
      redis?.close(),
      Promise.resolve().then(() => pg && pgUp && stopLocalPostgres(pg)),
    ]);
    if (!process.env['AION_KEEP_INFRA_DIR']) rmSync(dir, { recursive: true, force: true });
  };
  try {
    [pg, redis, kafka] = await Promise.all([
      // Stopped at once mid-load: a commit the platform acknowledged must survive that.
      startLocalPostgres(dir, { durableCommits: true }),
      startPrivateRedis(),
      startLocalKafka(dir, repoRoot),
    ]);
    pgUp = kafkaUp = true;
    await ensureRoles(pg.adminUrl);
  } catch (err) {
    await close();
    throw err;
  }
  const [postgresServer, kafkaServer, redisServer] = [pg, kafka, redis];
  return {
    infra: {
      pgAdminUrl: postgresServer.adminUrl,
      kafkaBrokers: kafkaServer.brokers,
      redisUrl: redisServer.url,
    },
    postgres: {
      stop: async () => {
        stopLocalPostgres(postgresServer);
        pgUp = false;
      },
      start: async () => {
        await startLocalPostgres(dir, { port: postgresServer.port, durableCommits: true });
        pgUp = true;
      },
    },
    redis: { stop: () => redisServer.stop(), start: () => redisServer.start() },
    kafka: {
      stop: async () => {
        if (!kafka || !kafkaUp) return;
        await stopLocalKafka(kafka);
        kafkaUp = false;
      },
      start: async () => {
        if (kafkaUp) return;
        kafka = await startLocalKafka(dir, repoRoot, {
          ports: { port: kafkaServer.port, controllerPort: kafkaServer.controllerPort },
        });
        kafkaUp = true;
      },
    },
    close,
  };
}
