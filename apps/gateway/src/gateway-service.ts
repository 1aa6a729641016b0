import { hkdfSync } from 'node:crypto';
import {
  ApiKeyService,
  credentialAuthenticator,
  JwtVerifier,
  type TokenVerifier,
} from '@aion/auth';
import { AionError } from '@aion/errors';
import {
  TaskOrchestrator,
  LearningGovernanceService,
  OrchestratorAdminService,
  ObservabilityService,
  ModuleService,
  PipelineService,
  SovereignService,
} from '@aion/contracts';
import { createGrpcClient } from '@aion/grpc';
import { JurisdictionRegistry } from '@aion/jurisdictions';
import {
  DegradingTokenBucketStore,
  MemoryTokenBucketStore,
  RedisTokenBucketStore,
} from '@aion/resilience';
import {
  defineService,
  resolveMigrationsFolder,
  type EmbeddedShared,
  type ServiceLifecycle,
} from '@aion/runtime';
import { EdgeMetrics } from '@aion/telemetry';
import { PostgresApiKeyRepository } from './adapters/db/api-key-repository';
import { AuditTrail } from '@aion/events';
import { outbox } from './adapters/db/schema';
import { PostgresIdempotencyStore } from './adapters/db/idempotency-store';
import { idempotencyPurge } from './adapters/db/idempotency-purge';
import { gatewayApp } from './api/http/app';
import { MemoryAttemptCounter, RedisAttemptCounter } from './adapters/stores/attempt-counters';
import { PostgresRefreshTokens, PostgresUsers } from './adapters/db/session-stores';
import { SessionService } from './core/sessions';
import { Capacity } from './api/capacity';
import { countingBuckets, countingVerifier } from './api/edge-metrics';
import { revocationListener } from './api/ws/revocation-listener';
import { attachWebSocket } from './api/ws/ws-server';
import { gatewayInfraNeeds, type GatewayConfig } from './config';
import { BootstrapAwareKeys, generateFirstAdminKey } from './core/bootstrap';
import { registerPublicTaskApi } from './api/grpc/aion-tasks';
import { edgeAuthenticator } from './api/grpc/edge-auth';
import { grpcServerCredentials } from './api/grpc/tls';

/** `1mb`, `64kb`, `512b` (AION_GATEWAY_BODY_LIMIT) in bytes. */
const UNIT_BYTES: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024 };
function bytesOf(limit: string): number {
  const match = /^(\d+)(b|kb|mb)$/i.exec(limit);
  if (!match) throw new Error(`body limit ${limit} is not <n>b, <n>kb or <n>mb`);
  return Number(match[1]) * UNIT_BYTES[match[2]!.toLowerCase()]!;
}

/**
 * Composition root of the gateway, the public edge: REST, SSE and the public gRPC API
 * (aion.v1.AionTasks) over the services' gRPC APIs with authentication, rate limits,
 * idempotency and backpressure.
 * Tests, the embedded launcher and main.ts all start it through here.
 */
export function createGatewayService(
  config: GatewayConfig,
  embedded?: { shared: EmbeddedShared; internalTokenSecret: string },
): ServiceLifecycle {
  return defineService({
    service: 'gateway',
    config,
    needs: {
      database: { migrationsFolder: resolveMigrationsFolder(__dirname) },
      bus: gatewayInfraNeeds.kafka,
      redis: true,
    },
    outbox,
    ...(embedded ? { embedded } : {}),
    wire: async ({
      infrastructure,
      outbox: box,
      tokens,
      grpcCredentials,
      coLocated,
      logger,
      metrics,
    }) => {
      const repository = new PostgresApiKeyRepository(infrastructure.database!.db);
      const keys = new ApiKeyService(repository, undefined, {
        cacheTtlMs: config.apiKeyCacheSeconds * 1000,
      });
      if (!config.bootstrapAdminKey) {
        const generated = await generateFirstAdminKey(
          keys,
          () => repository.isEmpty(),
          config.bootstrapTenant,
        );
        if (generated) {
          // Printed once, on purpose, outside the JSON logs: it is the only way to the first key.
          process.stdout.write(
            `\n  Aion generated the first admin API key for tenant "${config.bootstrapTenant}".\n  It is shown only now; store it:\n\n    ${generated}\n\n`,
          );
          logger.warn(
            'generated the first admin API key and printed it once; set AION_BOOTSTRAP_ADMIN_KEY to choose your own',
          );
        }
      }
      const jwt =
        config.jwtIssuer && config.jwtAudience && (config.jwtJwksUrl || config.jwtHs256Secret)
          ? new JwtVerifier({
              issuer: config.jwtIssuer,
              audience: config.jwtAudience,
              ...(config.jwtJwksUrl ? { jwksUrl: config.jwtJwksUrl } : {}),
              ...(config.jwtHs256Secret ? { hs256Secret: config.jwtHs256Secret } : {}),
            })
          : undefined;
      const db = infrastructure.database!.db;
      const sessions = new SessionService(
        new PostgresUsers(db),
        new PostgresRefreshTokens(db),
        infrastructure.redis
          ? new RedisAttemptCounter(infrastructure.redis)
          : new MemoryAttemptCounter(),
        {
          signingSecret: new Uint8Array(
            config.sessionSecret
              ? Buffer.from(config.sessionSecret)
              : hkdfSync('sha256', secretOf(config, embedded), 'aion-gateway', 'access-tokens', 32),
          ),
          accessTtlSeconds: config.accessTokenTtlSeconds,
          refreshTtlSeconds: config.refreshTokenTtlSeconds,
          maxAttempts: config.loginMaxAttempts,
          lockoutSeconds: config.loginLockoutSeconds,
          hashing: { workers: config.loginHashWorkers, maxQueue: config.loginHashQueue },
        },
      );
      // Bearer JWTs: this gateway's own access tokens, or an external identity provider's.
      // Refused credentials and rate-limited requests of every API, counted where they are decided.
      const edge = new EdgeMetrics(metrics);
      const bearer: TokenVerifier = countingVerifier(
        {
          verify: (token) =>
            sessions.isOwnToken(token)
              ? sessions.verifyAccessToken(token)
              : jwt
                ? jwt.verify(token)
                : Promise.reject(new AionError('auth.invalid_credentials', 'invalid token')),
        },
        edge,
      );
      // Calls to the orchestrator, sovereign-ai and observability: in-process when co-located, else over gRPC.
      const peers = {
        tokens,
        credentials: grpcCredentials,
        inProcess: coLocated,
        metrics,
        defaultDeadlineMs: config.requestTimeoutMs,
      };
      const tasks = createGrpcClient(TaskOrchestrator, config.orchestratorAddress, peers);
      const admin = createGrpcClient(OrchestratorAdminService, config.orchestratorAddress, peers);
      const governance = createGrpcClient(
        LearningGovernanceService,
        config.orchestratorAddress,
        peers,
      );
      const sovereign = createGrpcClient(SovereignService, config.sovereignAddress, peers);
      const observability = createGrpcClient(
        ObservabilityService,
        config.observabilityAddress,
        peers,
      );
      const pipeline = createGrpcClient(PipelineService, config.pipelineAddress, peers);
      const modules = createGrpcClient(ModuleService, config.moduleHostAddress, peers);
      const redis = infrastructure.redis;
      const keyVerifier = countingVerifier(
        new BootstrapAwareKeys(keys, config.bootstrapAdminKey, config.bootstrapTenant),
        edge,
      );
      // Rate limits degrade while Redis is away: local buckets per replica (bound: limit ×
      // replicas) instead of refusing traffic; back on Redis once it answers (ARCHITECTURE.md).
      const buckets = countingBuckets(
        redis
          ? new DegradingTokenBucketStore({
              shared: new RedisTokenBucketStore(redis),
              onChange: (local, cause) =>
                local
                  ? logger.warn('redis unreachable: rate limits are per replica until it is back', {
                      reason: cause instanceof Error ? cause.message : String(cause),
                    })
                  : logger.info('redis is back: rate limits are shared again'),
            })
          : new MemoryTokenBucketStore(),
        edge,
      );
      const limits = {
        perKey: { capacity: config.keyBurst, refillPerSecond: config.keyRatePerMinute / 60 },
        perIp: { capacity: config.ipRatePerMinute, refillPerSecond: config.ipRatePerMinute / 60 },
      };
      // One instance's request and stream slots, shared fairly by REST, gRPC and WebSocket.
      const requests = new Capacity({
        total: config.maxInFlight,
        perTenant: config.maxInFlightPerTenant,
        perKey: config.maxInFlightPerKey,
      });
      const streams = new Capacity({
        total: config.maxStreams,
        perTenant: config.maxStreamsPerTenant,
        perKey: config.maxStreamsPerKey,
      });
      let websockets: ReturnType<typeof attachWebSocket> | undefined;
      // Idempotency-Keys live in PostgreSQL, not Redis: they must outlast a Redis restart.
      const idempotencyStore = new PostgresIdempotencyStore(db);
      const app = gatewayApp({
        config,
        logger,
        tasks,
        admin,
        governance,
        sovereign,
        observability,
        pipeline,
        modules,
        audit: new AuditTrail(infrastructure.database!.db, box!.writer),
        keys,
        keyVerifier,
        jwt: bearer,
        sessions,
        buckets,
        idempotencyStore,
        requests,
        streams,
      });
      // Certificate files are read now: a missing one stops the start, not the first call.
      const tls = grpcServerCredentials({
        certFile: config.publicGrpcTlsCertFile,
        keyFile: config.publicGrpcTlsKeyFile,
        clientCaFile: config.publicGrpcTlsClientCaFile,
      });
      return {
        registerGrpc: (server) => {
          if (tls) server.useCredentials(tls);
          registerPublicTaskApi(
            server,
            {
              tasks,
              jurisdictions: JurisdictionRegistry.fromFile(config.regionsFile),
              defaultJurisdiction: config.defaultJurisdiction,
              requestTimeoutMs: config.requestTimeoutMs,
              requests,
              streams,
            },
            {
              authenticate: edgeAuthenticator({
                credentials: credentialAuthenticator({ apiKeys: keyVerifier, jwt: bearer }),
                buckets,
                limits,
              }),
              maxRequestBytes: bytesOf(config.bodyLimit),
              maxInFlight: config.maxInFlight,
            },
          );
        },
        registerHttp: (host) => host.use(app),
        attachServer: (server) => {
          websockets = attachWebSocket(server, {
            tasks,
            pipeline,
            keys: keyVerifier,
            bearer,
            logger,
            maxBufferedBytes: config.wsMaxBufferedBytes,
            maxSubscriptions: config.wsMaxSubscriptions,
            buckets,
            perKey: limits.perKey,
            perIp: limits.perIp,
            streams,
            recheckMs: config.wsRecheckSeconds * 1000,
            maxAgeMs: config.wsMaxAgeSeconds * 1000,
          });
        },
        onStopping: () => websockets?.close(),
        workers: [
          idempotencyPurge(idempotencyStore, logger),
          revocationListener({
            bus: infrastructure.bus!,
            groupPrefix: config.revocationGroupPrefix,
            onRevoked: async (tenantId, keyId) => {
              keys.forget(keyId);
              await websockets?.revoked(tenantId);
            },
            logger,
          }),
          {
            name: 'grpc-clients',
            start: () => undefined,
            stop: async () => {
              await sessions.close();
              tasks.close();
              admin.close();
              governance.close();
              sovereign.close();
              observability.close();
              pipeline.close();
              modules.close();
            },
          },
        ],
      };
    },
  });
}

/** The internal-token secret this instance runs with (generated per start in embedded mode). */
function secretOf(config: GatewayConfig, embedded?: { internalTokenSecret: string }): string {
  const secret = embedded?.internalTokenSecret ?? config.internalTokenSecret;
  if (!secret) throw new Error('AION_INTERNAL_TOKEN_SECRET is required');
  return secret;
}
