import { z } from 'zod';
import {
  bool,
  ConfigError,
  csv,
  field,
  loadConfig,
  port,
  positiveInt,
  SERVICE_PREFIXES,
  url,
  type ConfigOf,
  type ConfigSpec,
  type ServiceName,
} from './config';
import { transportConfigSpec, transportProblems } from './transport';

/**
 * Variables every service reads. In embedded mode the infrastructure URLs are optional
 * (PGlite, the in-memory bus and store stand in); in distributed mode they are required,
 * which `assertDistributedInfra` checks after loading.
 */
export const sharedConfigSpec = {
  mode: field(
    'AION_MODE',
    z.enum(['embedded', 'distributed']).default('distributed'),
    'embedded: PGlite, in-memory bus and store; distributed: PostgreSQL, Kafka, Redis',
  ),
  databaseUrl: field(
    'DATABASE_URL',
    url(['postgres', 'postgresql']).optional(),
    'PostgreSQL connection for the service (non-owner role)',
    { sensitiveUrlPassword: true },
  ),
  redisUrl: field('REDIS_URL', url(['redis', 'rediss']).optional(), 'Redis connection', {
    sensitiveUrlPassword: true,
  }),
  kafkaBrokers: field(
    'KAFKA_BROKERS',
    csv(),
    'Comma-separated Kafka bootstrap brokers (host:port)',
  ),
  coLocated: field(
    'AION_CO_LOCATED',
    z.enum(['auto', 'true', 'false']).default('auto'),
    'Co-located profile: calls to a service this process also runs go in-process (same ' +
      'permission checks, tenant, deadlines and errors, no protobuf or HTTP/2) instead of over ' +
      'gRPC; auto: on in embedded mode',
  ),
  logLevel: field(
    'LOG_LEVEL',
    z.enum(['error', 'warn', 'info', 'http', 'debug']).default('info'),
    'Minimum log level',
  ),
  logPiiFields: field('LOG_PII_FIELDS', csv(), 'Extra log field names whose values are masked'),
  otelExporterUrl: field(
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    url(['http', 'https']).optional(),
    'OTLP/HTTP endpoint; tracing export is off when unset',
  ),
  dataDir: field(
    'AION_DATA_DIR',
    z.string().default('.aion/data'),
    'Embedded mode: where PGlite keeps each service\'s data ("memory" keeps nothing on disk)',
  ),
  regionsFile: field(
    'AION_REGIONS_FILE',
    z.string().min(1).optional(),
    'JSON or YAML map of region code -> ISO 3166-1 countries, added to (or replacing) the built-in regions; every service must read the same file',
  ),
  internalTokenSecret: field(
    'AION_INTERNAL_TOKEN_SECRET',
    z.string().min(32, 'must be at least 32 characters').optional(),
    'HMAC key for service-to-service tokens',
    { sensitive: true },
  ),
  ...transportConfigSpec,
};

/** Variables each service has under its own prefix. */
export function serviceConfigSpec(
  service: ServiceName,
  defaults: { httpPort: number; grpcPort: number; httpPortAlias?: string; opsPort?: number },
) {
  const p = SERVICE_PREFIXES[service];
  return {
    httpPort: field(
      `${p}HTTP_PORT`,
      port(defaults.httpPort),
      defaults.opsPort === undefined
        ? 'HTTP port: health, readiness and metrics'
        : 'HTTP port of the public API (and /healthz)',
      defaults.httpPortAlias ? { alias: defaults.httpPortAlias } : {},
    ),
    grpcPort: field(`${p}GRPC_PORT`, port(defaults.grpcPort), 'gRPC port'),
    // A service whose HTTP port is public serves readiness and metrics on a port of their own,
    // for probes and Prometheus, never exposed by the public Service.
    opsPort: field(
      `${p}OPS_PORT`,
      defaults.opsPort === undefined
        ? z.coerce.number().int().min(0).max(65535).optional()
        : port(defaults.opsPort),
      'Internal port for /healthz, /readyz and /metrics (unset: they are on the HTTP port)',
    ),
    host: field(
      `${p}HOST`,
      z.string().default(''),
      'Address to bind (default: 127.0.0.1 in embedded mode, 0.0.0.0 otherwise)',
    ),
    shutdownTimeoutMs: field(
      `${p}SHUTDOWN_TIMEOUT_MS`,
      positiveInt(10_000),
      'Upper bound on graceful shutdown',
    ),
    runMigrations: field(
      `${p}RUN_MIGRATIONS`,
      bool(false),
      'Apply database migrations at startup (always on in embedded mode)',
    ),
  };
}

export interface InfraNeeds {
  database?: boolean;
  redis?: boolean;
  kafka?: boolean;
}

/**
 * Loads shared + service-specific variables in one pass. In distributed mode the infrastructure a
 * service needs is required; every problem, of either kind, is reported in one ConfigError.
 */
export function loadServiceConfig<S extends ConfigSpec>(
  spec: S,
  needs: InfraNeeds,
  env: NodeJS.ProcessEnv = process.env,
): ConfigOf<S & typeof sharedConfigSpec> {
  const full = { ...sharedConfigSpec, ...spec };
  let config: ConfigOf<S & typeof sharedConfigSpec> | undefined;
  const problems: ConfigError['problems'] = [];
  try {
    config = loadConfig(full, env) as ConfigOf<S & typeof sharedConfigSpec>;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  const mode = env['AION_MODE'] ?? 'distributed';
  // Embedded mode is a laptop: nothing listens beyond loopback unless asked to.
  const bound = config as { host?: unknown } | undefined;
  if (bound && bound.host === '') bound.host = mode === 'embedded' ? '127.0.0.1' : '0.0.0.0';
  if (mode === 'distributed') {
    if (needs.database && !env['DATABASE_URL'])
      problems.push({
        variable: 'DATABASE_URL',
        problem: 'required in distributed mode (not set)',
      });
    if (needs.redis && !env['REDIS_URL'])
      problems.push({ variable: 'REDIS_URL', problem: 'required in distributed mode (not set)' });
    if (needs.kafka && !env['KAFKA_BROKERS'])
      problems.push({
        variable: 'KAFKA_BROKERS',
        problem: 'required in distributed mode (not set)',
      });
    // Services verify each other's calls with it; without it nothing inside the platform works.
    if (!env['AION_INTERNAL_TOKEN_SECRET'])
      problems.push({
        variable: 'AION_INTERNAL_TOKEN_SECRET',
        problem: 'required in distributed mode (not set)',
      });
  }
  if (config) problems.push(...transportProblems(config, config.redisUrl));
  if (problems.length > 0 || !config) throw new ConfigError(problems);
  return config;
}
