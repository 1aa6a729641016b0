import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { uniqueName } from './ids';
import { repoRoot } from './infra/stack';
import { testKafkaTopicEnv } from './kafka';
import { createTestDatabase, migrateTestDatabase, type TestDatabase } from './postgres';
import { startServiceProcess, type ServiceProcess } from './services';

/** The sample agent packages, committed with their built .wasm (tools/modules/<name>). */
export const SAMPLE_MODULES_DIR = path.join(repoRoot, 'tools', 'modules');
export const sampleModule = (name: string): string => path.join(SAMPLE_MODULES_DIR, name);

type Env = NodeJS.ProcessEnv;

/** Servers of a suite's own (see startPrivateStack) instead of the shared test ones. */
export interface PlatformInfra {
  /** Superuser URL of the PostgreSQL server the platform's database is created on. */
  pgAdminUrl: string;
  kafkaBrokers: string;
  redisUrl: string;
}

export interface PlatformOptions {
  /** Label of the suite's own database (see createTestDatabase). */
  database: string;
  /** The orchestrator's engines.yaml. */
  engines: string;
  /** The services whose migrations run; every service when omitted. */
  migrate?: readonly string[];
  /** The internal token secret every service shares; a random one when omitted. */
  internalTokenSecret?: string;
  /** Sample modules (tools/modules/<name>) module-host preloads. */
  modules?: readonly string[];
  /** A service's settings beyond its ports, the addresses of its peers and the shared settings. */
  moduleHost?: Env;
  sovereignAi?: Env;
  orchestrator?: Env;
  /** Runs once sovereign-ai is up, before the orchestrator starts (which reads, e.g., residency rules). */
  beforeOrchestrator?: (sovereignAi: ServiceProcess) => Promise<void>;
  /** One gateway per entry, with these settings; no gateway when omitted. */
  gateways?: readonly Env[];
  /** The suite's own servers; the shared test servers when omitted. */
  infra?: PlatformInfra;
}

export interface Platform {
  db: TestDatabase;
  internalTokenSecret: string;
  /** The platform operator's tenant (AION_BOOTSTRAP_TENANT): the bootstrap admin key's. */
  bootstrapTenant: string;
  moduleHost: ServiceProcess;
  sovereignAi: ServiceProcess;
  orchestrator: ServiceProcess;
  /** In the order of `options.gateways`. */
  gateways: ServiceProcess[];
  /**
   * Starts a service of this platform that exited (a test killed it) again, with the settings
   * and ports it had, so its peers and clients find it where they left it; the new process takes
   * its place here and in stop().
   */
  restart(service: ServiceProcess): Promise<ServiceProcess>;
  /** Stops every process (the last started first), then drops the database. */
  stop(): Promise<void>;
}

/** What every service needs in distributed mode: its database, the test Kafka and Redis, the token secret. */
export const distributedEnv = (
  db: TestDatabase,
  internalTokenSecret: string,
  infra?: Pick<PlatformInfra, 'kafkaBrokers' | 'redisUrl'>,
): Env => ({
  AION_MODE: 'distributed',
  DATABASE_URL: db.appUrl,
  KAFKA_BROKERS: infra?.kafkaBrokers ?? process.env['KAFKA_BROKERS'],
  ...testKafkaTopicEnv(),
  REDIS_URL: infra?.redisUrl ?? process.env['REDIS_URL'],
  AION_INTERNAL_TOKEN_SECRET: internalTokenSecret,
});

/** The variable prefix of each service's ports. */
const PORT_PREFIX: Record<string, string> = {
  'module-host': 'AION_MODULE_HOST_',
  'sovereign-ai': 'AION_SOVEREIGN_',
  orchestrator: 'AION_ORCHESTRATOR_',
  gateway: 'AION_GATEWAY_',
};

/** Binds the service of this variable prefix (AION_GATEWAY_ ...) to free loopback ports; it logs the ports it got. */
export const onLoopback = (prefix: string): Env => ({
  [`${prefix}HTTP_PORT`]: '0',
  [`${prefix}GRPC_PORT`]: '0',
  [`${prefix}HOST`]: '127.0.0.1',
});

/**
 * Module-host, sovereign-ai, the orchestrator and the gateways as separate processes, as deployed
 * (AION_MODE=distributed), on a fresh migrated database and the test Redis and Kafka. Consumer
 * groups get unique names: each suite has its own database, and a group shared with another
 * suite would split the records between them. The bootstrap (platform) tenant is fresh too.
 * When any step fails, what started is stopped.
 */
export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aion-platform-'));
  const enginesFile = path.join(dir, 'engines.yaml');
  writeFileSync(enginesFile, options.engines);
  const secret = options.internalTokenSecret ?? randomBytes(24).toString('hex');
  // A fresh one per run: rate-limit buckets live in Redis and outlast a run.
  const bootstrapTenant = uniqueName('tenant');
  const started: ServiceProcess[] = [];
  /** How each service was started, to start it again on the same ports. */
  const launches = new Map<ServiceProcess, { app: string; prefix: string; env: Env }>();
  let db: TestDatabase | undefined;
  const stop = async () => {
    const running = started.splice(0).reverse();
    for (const service of running) service.kill('SIGTERM');
    await Promise.all(running.map((service) => service.exited));
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const database = await createTestDatabase(options.database, options.infra?.pgAdminUrl);
    db = database;
    migrateTestDatabase(database, options.migrate);
    const start = async (app: string, env: Env) => {
      const full = {
        ...distributedEnv(database, secret, options.infra),
        AION_BOOTSTRAP_TENANT: bootstrapTenant,
        ...env,
      };
      const service = await startServiceProcess(app, full);
      started.push(service);
      launches.set(service, { app, prefix: PORT_PREFIX[app] ?? '', env: full });
      return service;
    };
    const moduleHost = await start('module-host', {
      ...onLoopback('AION_MODULE_HOST_'),
      ...(options.modules?.length
        ? { AION_MODULE_HOST_PRELOAD: options.modules.map(sampleModule).join(',') }
        : {}),
      ...options.moduleHost,
    });
    const sovereignAi = await start('sovereign-ai', {
      ...onLoopback('AION_SOVEREIGN_'),
      AION_SOVEREIGN_CACHE_GROUP_PREFIX: uniqueName('sov-cache'),
      ...options.sovereignAi,
    });
    await options.beforeOrchestrator?.(sovereignAi);
    const orchestrator = await start('orchestrator', {
      ...onLoopback('AION_ORCHESTRATOR_'),
      AION_ORCHESTRATOR_MODULE_HOST_ADDRESS: `127.0.0.1:${moduleHost.grpcPort}`,
      AION_ORCHESTRATOR_SOVEREIGN_ADDRESS: `127.0.0.1:${sovereignAi.grpcPort}`,
      AION_ORCHESTRATOR_SOVEREIGN_GROUP_PREFIX: uniqueName('orc-sov'),
      AION_ORCHESTRATOR_DLQ_CONSUMER_GROUP: uniqueName('dlq-recorder'),
      AION_ORCHESTRATOR_AUDIT_CONSUMER_GROUP: uniqueName('audit-recorder'),
      AION_ORCHESTRATOR_ENGINES_FILE: enginesFile,
      ...options.orchestrator,
    });
    const gateways: ServiceProcess[] = [];
    for (const env of options.gateways ?? []) {
      gateways.push(
        await start('gateway', {
          ...onLoopback('AION_GATEWAY_'),
          // Its readiness and metrics port too: the default one would be shared by every gateway.
          AION_GATEWAY_OPS_PORT: '0',
          AION_GATEWAY_ORCHESTRATOR_ADDRESS: `127.0.0.1:${orchestrator.grpcPort}`,
          AION_GATEWAY_SOVEREIGN_ADDRESS: `127.0.0.1:${sovereignAi.grpcPort}`,
          ...env,
        }),
      );
    }
    const platform: Platform = {
      db: database,
      internalTokenSecret: secret,
      bootstrapTenant,
      moduleHost,
      sovereignAi,
      orchestrator,
      gateways,
      stop,
      restart: async (old) => {
        const launch = launches.get(old);
        if (!launch) throw new Error('restart: not a service of this platform');
        if (old.child.exitCode === null && old.child.signalCode === null)
          throw new Error(`restart: ${launch.app} is still running`);
        const { prefix } = launch;
        const service = await startServiceProcess(launch.app, {
          ...launch.env,
          [`${prefix}HTTP_PORT`]: String(old.httpPort),
          [`${prefix}GRPC_PORT`]: String(old.grpcPort),
          ...(launch.app === 'gateway' ? { [`${prefix}OPS_PORT`]: String(old.opsPort) } : {}),
        });
        launches.delete(old);
        launches.set(service, launch);
        const at = started.indexOf(old);
        if (at >= 0) started[at] = service;
        else started.push(service);
        if (platform.moduleHost === old) platform.moduleHost = service;
        if (platform.sovereignAi === old) platform.sovereignAi = service;
        if (platform.orchestrator === old) platform.orchestrator = service;
        const gateway = platform.gateways.indexOf(old);
        if (gateway >= 0) platform.gateways[gateway] = service;
        return service;
      },
    };
    return platform;
  } catch (err) {
    await stop();
    throw err;
  }
}
