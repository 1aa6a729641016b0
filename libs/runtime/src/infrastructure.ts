import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import Redis from 'ioredis';
import { Counter } from 'prom-client';
import type { ServiceName } from '@aion/config';
import {
  migratePglite,
  migratePostgres,
  openPgliteThread,
  openPostgres,
  SERVICE_TABLE_PREFIXES,
  type Database,
  type StatementCounts,
} from '@aion/db';
import { KafkaBus, kafkaSecurity, MemoryBus, type EventBus } from '@aion/events';
import type { Logger, ServiceMetrics } from '@aion/telemetry';
import type { BaseServiceConfig } from './config';

/** One dependency the service checks: on /healthz?verbose and the metrics, and on /readyz if required. */
export interface ReadinessCheck {
  name: string;
  /**
   * Whether the service cannot serve without it, so /readyz says not ready while it is down.
   * Only then: a dependency every replica shares and the service copes without (Kafka behind the
   * outbox) would otherwise take every replica out of service at once.
   */
  required: boolean;
  check(): Promise<void>;
}

/** What the embedded launcher shares between the six services running in one process. */
export interface EmbeddedShared {
  bus: MemoryBus;
  /**
   * One PGlite for all services (each keeps to its own table prefix), already migrated for every
   * service and switched to the app role: one WebAssembly Postgres instead of six.
   */
  database?: Database;
}

export interface InfrastructureNeeds {
  /** The service's drizzle-kit migrations folder. */
  database?: { migrationsFolder: string };
  bus?: boolean;
  redis?: boolean;
}

/**
 * The adapters behind a service's ports: PostgreSQL, Kafka and Redis in distributed mode;
 * PGlite, the in-memory bus and in-process stores in embedded mode. Same code paths above.
 */
export interface Infrastructure {
  database?: Database;
  bus?: EventBus;
  /** Absent in embedded mode: stores fall back to their in-memory implementations. */
  redis?: Redis;
  checks: ReadinessCheck[];
  close(): Promise<void>;
}

/** The app role the embedded PGlite session runs as after migrating (so RLS binds). */
export const EMBEDDED_APP_ROLE = 'aion_app';

/** Finds a service's migrations beside its sources, or beside its bundle in dist/. */
export function resolveMigrationsFolder(dirname: string): string {
  for (const candidate of [
    path.resolve(dirname, '..', 'migrations'),
    path.resolve(dirname, 'migrations'),
  ]) {
    if (existsSync(path.join(candidate, 'meta', '_journal.json'))) return candidate;
  }
  throw new Error(`no migrations folder found near ${dirname}`);
}

export async function openInfrastructure(options: {
  service: ServiceName;
  config: BaseServiceConfig;
  needs: InfrastructureNeeds;
  shared?: EmbeddedShared | undefined;
  logger: Logger;
  metrics: ServiceMetrics;
}): Promise<Infrastructure> {
  const { service, config, needs, logger, metrics } = options;
  const checks: ReadinessCheck[] = [];
  const closers: (() => Promise<void>)[] = [];
  const infra: Infrastructure = {
    checks,
    close: async () => void (await Promise.allSettled(closers.reverse().map((c) => c()))),
  };
  try {
    if (needs.database) {
      const prefix = SERVICE_TABLE_PREFIXES[service];
      const target = { folder: needs.database.migrationsFolder, prefix };
      let database: Database;
      if (config.mode === 'embedded' && options.shared?.database) {
        database = options.shared.database;
      } else if (config.mode === 'embedded') {
        const dataDir =
          config.dataDir === 'memory' ? undefined : path.resolve(config.dataDir, service);
        if (dataDir) mkdirSync(dataDir, { recursive: true });
        database = await openPgliteThread(dataDir ? { dataDir } : {});
        await migratePglite(database, [target], { appRole: EMBEDDED_APP_ROLE });
      } else {
        if (config.runMigrations) await migratePostgres(config.databaseUrl!, target);
        database = openPostgres({ url: config.databaseUrl!, applicationName: `aion-${service}` });
        exportDatabaseCounters(database, metrics);
      }
      infra.database = database;
      // Nothing a service serves works without its database.
      checks.push({ name: 'database', required: true, check: () => database.ping() });
      if (database !== options.shared?.database) closers.push(() => database.close());
    }
    if (needs.bus) {
      if (config.mode === 'embedded') {
        infra.bus = options.shared?.bus ?? new MemoryBus({ logger, metrics });
      } else {
        const bus = new KafkaBus({
          brokers: config.kafkaBrokers,
          clientId: `aion-${service}`,
          logger,
          metrics,
          security: kafkaSecurity({
            ssl: config.kafkaSsl,
            caFile: config.kafkaSslCaFile,
            certFile: config.kafkaSslCertFile,
            keyFile: config.kafkaSslKeyFile,
            saslMechanism: config.kafkaSaslMechanism,
            saslUsername: config.kafkaSaslUsername,
            saslPassword: config.kafkaSaslPassword,
          }),
          replicationFactor: config.kafkaReplicationFactor,
          minInsyncReplicas: config.kafkaMinInsyncReplicas,
        });
        infra.bus = bus;
        closers.push(() => bus.close());
      }
      const bus = infra.bus;
      // Not required: events wait in the outbox while Kafka is away and are sent once it is back.
      checks.push({ name: 'kafka', required: false, check: () => bus.ping() });
    }
    if (needs.redis && config.mode === 'distributed') {
      const redis = new Redis(config.redisUrl!, {
        ...redisTls(config),
        lazyConnect: true,
        maxRetriesPerRequest: 2,
        enableOfflineQueue: false,
        connectionName: `aion-${service}`,
        // Commands issued in the same tick (the rate-limit checks of concurrent requests) go out
        // in one write: on a busy host the socket writes, not Redis, were the cost.
        enableAutoPipelining: true,
      });
      // ioredis reconnects by itself; log instead of crashing on 'error' events.
      redis.on('error', (err: Error) =>
        logger.warn('redis connection problem', { reason: err.message }),
      );
      await redis.connect().catch((err: Error) =>
        logger.warn('redis not reachable at startup; /healthz?verbose will report it', {
          reason: err.message,
        }),
      );
      infra.redis = redis;
      checks.push({
        name: 'redis',
        // Not required: the gateway (its only user) degrades its rate limits and refuses only
        // logins (503) while Redis is away; it still serves everything else.
        required: false,
        check: async () => {
          if ((await redis.ping()) !== 'PONG') throw new Error('unexpected PING reply');
        },
      });
      closers.push(async () => void (await redis.quit().catch(() => redis.disconnect())));
    }
  } catch (err) {
    await infra.close();
    throw err;
  }
  return infra;
}

/**
 * TLS to Redis beyond what rediss:// gives (system CAs): a private CA, a client certificate. The
 * files are read now, so a missing one stops the start naming its variable.
 */
function redisTls(config: BaseServiceConfig): { tls?: ConnectionOptions } {
  if (!config.redisUrl?.startsWith('rediss:')) return {};
  const read = (file: string, variable: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(
        `${variable}: cannot read ${file} (${err instanceof Error ? err.message : String(err)})`,
      );
    }
  };
  const tls: ConnectionOptions = {};
  if (config.redisTlsCaFile) tls.ca = [read(config.redisTlsCaFile, 'REDIS_TLS_CA_FILE')];
  if (config.redisTlsCertFile) tls.cert = read(config.redisTlsCertFile, 'REDIS_TLS_CERT_FILE');
  if (config.redisTlsKeyFile) tls.key = read(config.redisTlsKeyFile, 'REDIS_TLS_KEY_FILE');
  return Object.keys(tls).length ? { tls } : {};
}

/**
 * The database's counters as Prometheus counters (aion_db_*_total): what each request costs the
 * database, counted rather than timed, so the hot path's guards hold on any machine. `work` says
 * whose: a request's (what its caller waits for) or the process's own loops (`asBackgroundWork`).
 */
function exportDatabaseCounters(database: Database, metrics: ServiceMetrics): void {
  const counters = database.counters;
  if (!counters) return;
  const counted: [string, keyof StatementCounts, string][] = [
    ['statements', 'statements', 'statements sent to PostgreSQL (begin and commit included)'],
    ['round_trips', 'roundTrips', 'waits for PostgreSQL (pipelined statements share one)'],
    ['transactions', 'transactions', 'transactions opened on PostgreSQL'],
  ];
  for (const [name, key, help] of counted)
    new Counter({
      name: `aion_db_${name}_total`,
      help,
      labelNames: ['work'],
      registers: [metrics.registry],
      // The count lives in libs/db (which knows no Prometheus); read it at each scrape.
      collect() {
        this.reset();
        this.inc({ work: 'request' }, counters[key] - counters.background[key]);
        this.inc({ work: 'background' }, counters.background[key]);
      },
    });
}
