import cors from 'cors';
import express, { type Express } from 'express';
import helmet from 'helmet';
import type {
  TaskOrchestrator,
  LearningGovernanceService,
  SovereignService,
  OrchestratorAdminService,
} from '@aion/contracts';
import {
  authenticate,
  type ApiKeyService,
  type ApiKeyVerifier,
  type TokenVerifier,
} from '@aion/auth';
import { AionError, errorMiddleware, notFoundMiddleware } from '@aion/errors';
import type { ClientOf } from '@aion/grpc';
import { JurisdictionRegistry } from '@aion/jurisdictions';
import type { TokenBucketStore } from '@aion/resilience';
import { httpTracingMiddleware, type Logger } from '@aion/telemetry';
import type { GatewayConfig } from '../../config';
import type { IdempotencyStore } from '../../core/idempotency';
import { adminRoutes } from './admin-routes';
import { dlqRoutes } from './dlq-routes';
import { governanceRoutes } from './governance-routes';
import { receiptKeysRoute, sovereignRoutes } from './sovereign-routes';
import { authRoutes } from './auth-routes';
import type { SessionService } from '../../core/sessions';
import {
  backpressure,
  idempotency,
  rateLimit,
  requestId,
  stripInternalHeaders,
} from './middleware';
import { openApiDocument } from './openapi';
import { openAiErrorMiddleware, openAiRoutes } from './openai-routes';
import { taskRoutes } from './tasks-routes';

/** Where admin actions are recorded (an AuditTrail over the gateway's outbox). */
export interface AdminAudit {
  record(action: string, resourceId: string, details?: Record<string, unknown>): Promise<void>;
}

export interface GatewayDeps {
  config: GatewayConfig;
  logger: Logger;
  tasks: ClientOf<typeof TaskOrchestrator>;
  admin: ClientOf<typeof OrchestratorAdminService>;
  governance: ClientOf<typeof LearningGovernanceService>;
  sovereign: ClientOf<typeof SovereignService>;
  keys: ApiKeyService;
  keyVerifier: ApiKeyVerifier;
  jwt?: TokenVerifier | undefined;
  sessions: SessionService;
  /** Admin actions (keys, users) on audit.activity. */
  audit: AdminAudit;
  buckets: TokenBucketStore;
  idempotencyStore: IdempotencyStore;
}

/**
 * The public edge. Order matters: request id and security headers first; the backpressure bound
 * and per-IP limit before any work; then body parsing, authentication, per-key limit and
 * idempotency; then routes; every failure leaves as the error envelope.
 */
export function gatewayApp(deps: GatewayDeps): Express {
  const { config } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.use(requestId());
  app.use(httpTracingMiddleware('gateway'));
  app.use(helmet());
  app.use(
    cors({
      origin: config.corsOrigins.length ? config.corsOrigins : false,
      exposedHeaders: [
        'X-Request-ID',
        'Retry-After',
        'RateLimit',
        'RateLimit-Policy',
        'Location',
        'Idempotent-Replayed',
      ],
    }),
  );
  app.use(stripInternalHeaders());
  app.use(backpressure(config.maxInFlight));
  const limits = {
    perKey: { capacity: config.keyBurst, refillPerSecond: config.keyRatePerMinute / 60 },
    perIp: { capacity: config.ipRatePerMinute, refillPerSecond: config.ipRatePerMinute / 60 },
  };
  app.use(rateLimit(deps.buckets, limits, 'ip'));
  if (config.docs) {
    const document = openApiDocument(process.env['npm_package_version'] ?? '0.1.0');
    app.get('/openapi.json', (_req, res) => {
      res.json(document);
    });
  }
  // Public, like the OpenAPI document: anyone holding a receipt must be able to verify it.
  app.use(receiptKeysRoute(deps.sovereign, config.requestTimeoutMs));
  app.use(express.json({ limit: config.bodyLimit, strict: true }));
  app.use((req, _res, next) => {
    const type = req.header('content-type');
    if (
      ['POST', 'PUT', 'PATCH'].includes(req.method) &&
      Number(req.header('content-length') ?? 0) > 0 &&
      type &&
      !type.includes('application/json')
    ) {
      return next(
        new AionError(
          'validation.unsupported_media_type',
          'send JSON with Content-Type: application/json',
        ),
      );
    }
    next();
  });
  app.use(authenticate({ apiKeys: deps.keyVerifier, ...(deps.jwt ? { jwt: deps.jwt } : {}) }));
  app.use(rateLimit(deps.buckets, limits, 'principal'));
  app.use(idempotency(deps.idempotencyStore, config.idempotencyTtlMinutes * 60_000));
  const jurisdictions = JurisdictionRegistry.fromFile(config.regionsFile);
  app.use(
    openAiRoutes({
      tasks: deps.tasks,
      admin: deps.admin,
      jurisdictions,
      defaultJurisdiction: config.defaultJurisdiction,
      requestTimeoutMs: config.requestTimeoutMs,
    }),
  );
  app.use(
    taskRoutes(deps.tasks, {
      requestTimeoutMs: config.requestTimeoutMs,
      heartbeatMs: config.sseHeartbeatMs,
      jurisdictions,
    }),
  );
  app.use(authRoutes(deps.sessions, deps.audit));
  app.use(adminRoutes(deps.keys, deps.admin, config.requestTimeoutMs, deps.audit));
  app.use(dlqRoutes(deps.admin, config.requestTimeoutMs));
  app.use(governanceRoutes(deps.governance, config.requestTimeoutMs));
  app.use(sovereignRoutes(deps.sovereign, jurisdictions, config.requestTimeoutMs));
  app.use(notFoundMiddleware());
  app.use(openAiErrorMiddleware());
  app.use(
    errorMiddleware((error, ctx) => {
      if (error.httpStatus >= 500)
        deps.logger.error('request failed', {
          ...ctx,
          error_code: error.code,
          cause: error.cause instanceof Error ? error.cause.message : undefined,
        });
    }),
  );
  return app;
}
