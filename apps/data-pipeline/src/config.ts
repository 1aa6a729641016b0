import { z } from 'zod';
import { field, grpcTarget, positiveInt } from '@aion/config';
import { loadConfigFor } from '@aion/runtime';
import type { KafkaSourceCluster } from './adapters/connectors/kafka-connector';
import type { RestSourceCredentials } from './adapters/connectors/rest-connector';
import type { S3SourceCredentials } from './adapters/connectors/s3-connector';

/** What the data-pipeline service needs in distributed mode; embedded mode stands in for all of it. */
export const dataPipelineInfraNeeds = { database: true, kafka: true };

const P = 'AION_PIPELINE_';

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const optional = (v: Record<string, unknown>, key: string, type: 'string' | 'boolean') =>
  v[key] === undefined || typeof v[key] === type;

/** An S3 source account: endpoint, region, keys (all optional: the SDK's default chain). */
const isS3Account = (v: unknown): v is S3SourceCredentials =>
  isObject(v) &&
  ['endpoint', 'region', 'access_key_id', 'secret_access_key'].every((k) =>
    optional(v, k, 'string'),
  ) &&
  optional(v, 'force_path_style', 'boolean') &&
  (v['endpoint'] === undefined || URL.canParse(v['endpoint'] as string));

/** A REST source account: headers (Authorization, API keys) sent with its requests. */
const isRestAccount = (v: unknown): v is RestSourceCredentials =>
  isObject(v) &&
  (v['headers'] === undefined ||
    (isObject(v['headers']) && Object.values(v['headers']).every((h) => typeof h === 'string')));

/** A Kafka source cluster: brokers, TLS, SASL. */
const isKafkaCluster = (v: unknown): v is KafkaSourceCluster =>
  isObject(v) &&
  Array.isArray(v['brokers']) &&
  v['brokers'].length > 0 &&
  v['brokers'].every((b) => typeof b === 'string' && /^.+:\d{1,5}$/.test(b)) &&
  optional(v, 'ssl', 'boolean') &&
  (v['sasl'] === undefined ||
    (isObject(v['sasl']) &&
      ['plain', 'scram-sha-256', 'scram-sha-512'].includes(v['sasl']['mechanism'] as string) &&
      typeof v['sasl']['username'] === 'string' &&
      typeof v['sasl']['password'] === 'string'));

const DURATION_UNITS_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration as `<n>s`, `<n>m`, `<n>h` or `<n>d` (e.g. 7d), in milliseconds: 1 second to 10 years. */
export const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s, ctx) => {
      const m = /^(\d{1,9})([smhd])$/.exec(s.trim());
      const ms = m ? Number(m[1]) * DURATION_UNITS_MS[m[2] as keyof typeof DURATION_UNITS_MS] : 0;
      if (ms >= 1000 && ms <= 3650 * DURATION_UNITS_MS.d) return ms;
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: 'a duration such as 30m, 12h or 7d (1s to 3650d)',
      });
      return z.NEVER;
    });

/** A JSON object of name -> value (secrets by name: a job names one, never holds it). */
function jsonRecord<T>(message: string, valid: (v: unknown) => v is T) {
  return z
    .string()
    .default('{}')
    .transform((s, ctx) => {
      try {
        const v = JSON.parse(s) as unknown;
        if (isObject(v) && Object.values(v).every(valid)) return v as Record<string, T>;
      } catch {
        // reported below
      }
      ctx.addIssue({ code: z.ZodIssueCode.custom, message });
      return z.NEVER;
    });
}

export const dataPipelineConfigSpec = {
  inboxDir: field(
    `${P}INBOX_DIR`,
    z.string().min(1).default('.aion/data/inbox'),
    'The only directory file sources are read from ({"type":"file","path":"sales.csv"} names a file inside it)',
  ),
  storageDir: field(
    `${P}STORAGE_DIR`,
    z.string().min(1).default('.aion/data/pipeline-store'),
    'Object storage on the filesystem: dataset versions and staged stage outputs',
  ),
  s3Bucket: field(
    `${P}S3_BUCKET`,
    z.string().min(3).optional(),
    'Keep dataset versions in this S3 bucket (S3 or any S3-compatible server) instead of STORAGE_DIR',
  ),
  s3Endpoint: field(
    `${P}S3_ENDPOINT`,
    z.string().url().optional(),
    'S3-compatible endpoint (unset: AWS S3)',
  ),
  s3Region: field(`${P}S3_REGION`, z.string().min(1).default('us-east-1'), 'Region of the bucket'),
  s3Prefix: field(
    `${P}S3_PREFIX`,
    z.string().default(''),
    "Key prefix of this deployment's objects",
  ),
  s3AccessKeyId: field(
    `${P}S3_ACCESS_KEY_ID`,
    z.string().min(1).optional(),
    'S3 access key (unset: the SDK default chain)',
  ),
  s3SecretAccessKey: field(
    `${P}S3_SECRET_ACCESS_KEY`,
    z.string().min(1).optional(),
    'S3 secret key',
    {
      sensitive: true,
    },
  ),
  s3ForcePathStyle: field(
    `${P}S3_FORCE_PATH_STYLE`,
    z
      .enum(['true', 'false'])
      .default('true')
      .transform((v) => v === 'true'),
    'Bucket in the URL path (what most S3-compatible servers need)',
  ),
  workDir: field(
    `${P}WORK_DIR`,
    z.string().min(1).default('.aion/data/pipeline-work'),
    "Local scratch space of the engine (a job's files while it runs, DuckDB's spill files)",
  ),
  postgresSources: field(
    `${P}POSTGRES_SOURCES`,
    jsonRecord(
      'a JSON object of name -> connection string',
      (x): x is string => typeof x === 'string',
    ),
    'PostgreSQL sources by name (JSON {"name": "postgres://..."}); a job names one, never a connection string',
    { sensitive: true },
  ),
  egressAllow: field(
    `${P}EGRESS_ALLOW`,
    z.string().default(''),
    'Where outbound sources (S3, REST) may connect: comma list of * (any public address), host, *.domain, host:port, IP or CIDR. Loopback, private, link-local and metadata addresses need an explicit IP/CIDR entry (unset: no outbound source)',
  ),
  s3Sources: field(
    `${P}S3_SOURCES`,
    jsonRecord(
      'a JSON object of name -> {endpoint, region, access_key_id, secret_access_key, force_path_style}',
      isS3Account,
    ),
    'S3 source credentials by name (JSON); a job names one ({"type":"s3","credentials":"name"}), never a key',
    { sensitive: true },
  ),
  restSources: field(
    `${P}REST_SOURCES`,
    jsonRecord('a JSON object of name -> {headers: {name: value}}', isRestAccount),
    'REST source credentials by name (JSON: headers sent with each request); a job names one, never a token',
    { sensitive: true },
  ),
  kafkaSources: field(
    `${P}KAFKA_SOURCES`,
    jsonRecord(
      'a JSON object of name -> {brokers: ["host:port"], ssl?, sasl?: {mechanism, username, password}}',
      isKafkaCluster,
    ),
    'Kafka clusters a job may read a topic of, by name (JSON); a job names one, never a password',
    { sensitive: true },
  ),
  jurisdiction: field(
    `${P}JURISDICTION`,
    z.string().min(2).max(64).optional(),
    "Where this pipeline processes and stores data; set, every job's data_context is checked with sovereign-ai first (unset: not checked)",
  ),
  sovereignAddress: field(
    `${P}SOVEREIGN_ADDRESS`,
    grpcTarget('127.0.0.1:50052'),
    'gRPC target of sovereign-ai (residency decisions); dns:///name:port spreads calls over every replica',
  ),
  progressIntervalMs: field(
    `${P}PROGRESS_INTERVAL_MS`,
    positiveInt(1000),
    "How often a running stage's progress (percent, rows, bytes) is checkpointed at most",
  ),
  watchPollMs: field(
    `${P}WATCH_POLL_MS`,
    positiveInt(500),
    "How often a job being watched (WatchJob, the gateway's job events) is read for changes",
  ),
  uploadMaxBytes: field(
    `${P}UPLOAD_MAX_BYTES`,
    positiveInt(1024 * 1024 * 1024),
    'Largest file a tenant may upload as a job source (bytes; the gateway has its own limit too)',
  ),
  uploadRetentionMs: field(
    `${P}UPLOAD_RETENTION`,
    duration('7d'),
    'How long an upload is kept (30m, 12h, 7d, ...); then the sweep deletes its bytes and record, unless a pending or running job still names it',
  ),
  uploadSweepMs: field(
    `${P}UPLOAD_SWEEP_INTERVAL_MS`,
    positiveInt(5 * 60_000),
    'How often each replica deletes expired uploads (replicas never delete one twice)',
  ),
  postgresBatchRows: field(
    `${P}POSTGRES_BATCH_ROWS`,
    positiveInt(10_000),
    'Rows fetched from a PostgreSQL source per cursor round trip (what memory holds at once)',
  ),
  qualityScoreThreshold: field(
    `${P}QUALITY_SCORE_THRESHOLD`,
    z.coerce.number().min(0).max(1).default(0.8),
    'Default share of expectations that must pass for the quality gate (a job may set its own)',
  ),
  memoryLimit: field(
    `${P}ENGINE_MEMORY_LIMIT`,
    z
      .string()
      .regex(/^\d+(KB|MB|GB)$/)
      .default('512MB'),
    "DuckDB's memory limit; larger work spills to the work directory",
  ),
  engineThreads: field(`${P}ENGINE_THREADS`, positiveInt(2), 'Threads DuckDB uses per operation'),
  maxAttempts: field(
    `${P}MAX_ATTEMPTS`,
    positiveInt(3),
    'Attempts of a job before it is dead-lettered',
  ),
  leaseMs: field(
    `${P}LEASE_MS`,
    positiveInt(30_000),
    "How long a worker's claim on a job lasts without renewal",
  ),
  pollMs: field(
    `${P}POLL_MS`,
    positiveInt(1_000),
    'How often an idle worker looks for queued jobs',
  ),
  stageTimeoutMs: field(
    `${P}STAGE_TIMEOUT_MS`,
    positiveInt(30 * 60_000),
    'Longest a stage may run',
  ),
  retryBaseMs: field(
    `${P}RETRY_BASE_MS`,
    positiveInt(2_000),
    'Backoff before the second attempt (doubling, capped)',
  ),
  retryMaxMs: field(
    `${P}RETRY_MAX_MS`,
    positiveInt(5 * 60_000),
    'Longest backoff between attempts',
  ),
};

/** Validated at startup from AION_PIPELINE_* and the shared variables; one error lists every problem. */
export function loadDataPipelineConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfigFor('data-pipeline', dataPipelineConfigSpec, dataPipelineInfraNeeds, env);
}

export type DataPipelineConfig = ReturnType<typeof loadDataPipelineConfig>;
