import { z } from 'zod';
import { bool, ConfigError, csv, field, grpcTarget, positiveInt } from '@aion/config';
import { loadConfigFor } from '@aion/runtime';

/** What the gateway needs in distributed mode; embedded mode stands in for all of it. */
export const gatewayInfraNeeds = { database: true, redis: true, kafka: true };

const P = 'AION_GATEWAY_';

export const gatewayConfigSpec = {
  sovereignAddress: field(
    `${P}SOVEREIGN_ADDRESS`,
    grpcTarget('127.0.0.1:50052'),
    'gRPC target of sovereign-ai (host:port; dns:///name:port spreads calls over every replica)',
  ),
  observabilityAddress: field(
    `${P}OBSERVABILITY_ADDRESS`,
    grpcTarget('127.0.0.1:50054'),
    'gRPC target of the observability service (host:port; dns:///name:port spreads calls over every replica)',
  ),
  pipelineAddress: field(
    `${P}PIPELINE_ADDRESS`,
    grpcTarget('127.0.0.1:50053'),
    'gRPC target of the data-pipeline service (host:port; dns:///name:port spreads calls over every replica)',
  ),
  moduleHostAddress: field(
    `${P}MODULE_HOST_ADDRESS`,
    grpcTarget('127.0.0.1:50055'),
    'gRPC target of a module-host (installs, lists and quarantine; host:port or dns:///name:port)',
  ),
  orchestratorAddress: field(
    `${P}ORCHESTRATOR_ADDRESS`,
    grpcTarget('127.0.0.1:50051'),
    'gRPC target of the orchestrator (host:port; dns:///name:port spreads calls over every replica)',
  ),
  requestTimeoutMs: field(
    `${P}REQUEST_TIMEOUT_MS`,
    positiveInt(30_000),
    'Deadline for a request, propagated to gRPC calls',
  ),
  maxInFlight: field(
    `${P}MAX_IN_FLIGHT`,
    positiveInt(512),
    'Requests handled at once per instance; more get 503 with Retry-After',
  ),
  maxInFlightPerTenant: field(
    `${P}MAX_IN_FLIGHT_PER_TENANT`,
    positiveInt(256),
    'Requests one tenant may have in flight per instance; more get 429 with Retry-After',
  ),
  maxInFlightPerKey: field(
    `${P}MAX_IN_FLIGHT_PER_KEY`,
    positiveInt(128),
    'Requests one API key (or user) may have in flight per instance; more get 429',
  ),
  maxStreams: field(
    `${P}MAX_STREAMS`,
    positiveInt(4096),
    'Open event streams (SSE and WebSocket connections) per instance; they hold no request slot',
  ),
  maxStreamsPerTenant: field(
    `${P}MAX_STREAMS_PER_TENANT`,
    positiveInt(1024),
    'Open event streams of one tenant per instance',
  ),
  maxStreamsPerKey: field(
    `${P}MAX_STREAMS_PER_KEY`,
    positiveInt(64),
    'Open event streams of one API key (or user) per instance',
  ),
  pipelineUploadMaxBytes: field(
    `${P}PIPELINE_UPLOAD_MAX_BYTES`,
    positiveInt(1024 * 1024 * 1024),
    'Largest file POST /api/v1/pipeline/uploads takes (bytes; 413 beyond it, streamed, never buffered)',
  ),
  bodyLimit: field(
    `${P}BODY_LIMIT`,
    z
      .string()
      .regex(/^\d+(b|kb|mb)$/i)
      .default('1mb'),
    'Largest request body accepted',
  ),
  corsOrigins: field(
    `${P}CORS_ORIGINS`,
    csv(),
    'Browser origins allowed to call the API (none when empty)',
  ),
  trustProxy: field(
    `${P}TRUST_PROXY`,
    z.string().default('loopback'),
    'Express trust-proxy setting used to find the client IP',
  ),
  keyRatePerMinute: field(
    `${P}RATE_LIMIT_KEY_PER_MINUTE`,
    positiveInt(60),
    'Sustained requests per minute per API key',
  ),
  keyBurst: field(`${P}RATE_LIMIT_KEY_BURST`, positiveInt(120), 'Burst per API key'),
  ipRatePerMinute: field(
    `${P}RATE_LIMIT_IP_PER_MINUTE`,
    positiveInt(120),
    'Requests per minute per client IP (also the burst)',
  ),
  apiKeyCacheSeconds: field(
    `${P}API_KEY_CACHE_SECONDS`,
    z.coerce.number().int().min(0).max(300).default(5),
    'How long a looked-up API key is reused; a key revoked on another replica works there at most this long (0: look up every request)',
  ),
  idempotencyTtlHours: field(
    `${P}IDEMPOTENCY_TTL_HOURS`,
    z.coerce.number().int().min(1).max(720).default(24),
    'How long an Idempotency-Key is remembered (its record in PostgreSQL) and answers repeats (1-720)',
  ),
  sseHeartbeatMs: field(
    `${P}SSE_HEARTBEAT_MS`,
    positiveInt(15_000),
    'Interval of SSE heartbeat comments',
  ),
  bootstrapAdminKey: field(
    'AION_BOOTSTRAP_ADMIN_KEY',
    z.string().min(32, 'must be at least 32 characters').optional(),
    'Admin API key accepted for the bootstrap tenant',
    { sensitive: true },
  ),
  bootstrapTenant: field(
    'AION_BOOTSTRAP_TENANT',
    z
      .string()
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/)
      .default('default'),
    'Tenant of the bootstrap admin key',
  ),
  jwtIssuer: field(
    `${P}JWT_ISSUER`,
    z.string().optional(),
    'Accept JWTs from this issuer (with JWT_AUDIENCE and a key source)',
  ),
  jwtAudience: field(`${P}JWT_AUDIENCE`, z.string().optional(), 'Required JWT audience'),
  jwtJwksUrl: field(
    `${P}JWT_JWKS_URL`,
    z.string().url().optional(),
    'JWKS endpoint of the identity provider',
  ),
  jwtHs256Secret: field(
    `${P}JWT_HS256_SECRET`,
    z.string().min(32).optional(),
    'Enables HS256 JWTs with this secret',
    { sensitive: true },
  ),
  defaultJurisdiction: field(
    `${P}DEFAULT_JURISDICTION`,
    z.string().min(2).default('US'),
    'Data jurisdiction of OpenAI-compatible requests that send no Aion-Jurisdiction header',
  ),
  wsMaxBufferedBytes: field(
    `${P}WS_MAX_BUFFERED_BYTES`,
    positiveInt(1024 * 1024),
    'Bytes queued for a WebSocket client before it is closed as too slow (code 4008)',
  ),
  wsMaxSubscriptions: field(
    `${P}WS_MAX_SUBSCRIPTIONS`,
    positiveInt(100),
    'Task subscriptions per WebSocket connection',
  ),
  wsRecheckSeconds: field(
    `${P}WS_RECHECK_SECONDS`,
    positiveInt(30),
    'How often an open WebSocket re-checks its credential (and on every subscribe)',
  ),
  wsMaxAgeSeconds: field(
    `${P}WS_MAX_AGE_SECONDS`,
    positiveInt(3600),
    'Longest a WebSocket stays open (a JWT closes it at its expiry if sooner); code 4002',
  ),
  revocationGroupPrefix: field(
    `${P}REVOCATION_GROUP_PREFIX`,
    z.string().min(1).default('aion-gateway-revocations'),
    'Consumer-group prefix of the per-replica listener that closes WebSockets of revoked keys',
  ),
  loginMaxAttempts: field(
    `${P}LOGIN_MAX_ATTEMPTS`,
    positiveInt(5),
    'Failed logins before an account is locked',
  ),
  loginLockoutSeconds: field(
    `${P}LOGIN_LOCKOUT_TTL_SECONDS`,
    positiveInt(900),
    'How long a locked account stays locked',
  ),
  loginHashWorkers: field(
    `${P}LOGIN_HASH_WORKERS`,
    positiveInt(2),
    'Worker threads hashing passwords (argon2id, ~19 MiB each) off the event loop',
  ),
  loginHashQueue: field(
    `${P}LOGIN_HASH_QUEUE`,
    positiveInt(64),
    'Password hashes that may wait for a worker; more logins get 503 with Retry-After',
  ),
  accessTokenTtlSeconds: field(
    `${P}ACCESS_TOKEN_TTL_SECONDS`,
    positiveInt(900),
    'Lifetime of access tokens issued at login',
  ),
  refreshTokenTtlSeconds: field(
    `${P}REFRESH_TOKEN_TTL_SECONDS`,
    positiveInt(30 * 24 * 3600),
    'Lifetime of refresh tokens',
  ),
  sessionSecret: field(
    `${P}SESSION_SECRET`,
    z.string().min(32).optional(),
    'Signs access tokens (derived from AION_INTERNAL_TOKEN_SECRET when unset)',
    { sensitive: true },
  ),
  docs: field(`${P}OPENAPI`, bool(true), 'Serve GET /openapi.json'),
  publicGrpcTlsCertFile: field(
    `${P}GRPC_TLS_CERT_FILE`,
    z.string().min(1).optional(),
    'PEM certificate (chain) of the public gRPC API; with GRPC_TLS_KEY_FILE it serves TLS, plaintext otherwise',
  ),
  publicGrpcTlsKeyFile: field(
    `${P}GRPC_TLS_KEY_FILE`,
    z.string().min(1).optional(),
    'PEM private key of GRPC_TLS_CERT_FILE',
  ),
  publicGrpcTlsClientCaFile: field(
    `${P}GRPC_TLS_CLIENT_CA_FILE`,
    z.string().min(1).optional(),
    'PEM CA bundle: gRPC clients must present a certificate it signed (mutual TLS)',
  ),
};

/** Settings that are only valid together. */
function checkCombinations(config: {
  publicGrpcTlsCertFile?: string | undefined;
  publicGrpcTlsKeyFile?: string | undefined;
  publicGrpcTlsClientCaFile?: string | undefined;
}): void {
  const problems: ConfigError['problems'] = [];
  if (Boolean(config.publicGrpcTlsCertFile) !== Boolean(config.publicGrpcTlsKeyFile))
    problems.push({
      variable: config.publicGrpcTlsCertFile ? `${P}GRPC_TLS_KEY_FILE` : `${P}GRPC_TLS_CERT_FILE`,
      problem: 'GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE go together (not set)',
    });
  if (config.publicGrpcTlsClientCaFile && !config.publicGrpcTlsCertFile)
    problems.push({
      variable: `${P}GRPC_TLS_CLIENT_CA_FILE`,
      problem: 'mutual TLS needs TLS: set GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE too',
    });
  if (problems.length) throw new ConfigError(problems);
}

/** Validated at startup from AION_GATEWAY_* and the shared variables; one error lists every problem. */
export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env) {
  const config = loadConfigFor('gateway', gatewayConfigSpec, gatewayInfraNeeds, env);
  checkCombinations(config);
  return config;
}

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;
