import cors from 'cors';
import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import type {
  LearningGovernanceService,
  ModuleService,
  OrchestratorAdminService,
  ObservabilityService,
  PipelineService,
  SovereignService,
  TaskOrchestrator,
} from '@aion/contracts';
import {
  authenticate,
  type ApiKeyService,
  type ApiKeyVerifier,
  type TokenVerifier,
} from '@aion/auth';
import { AionError, errorMiddleware, notFoundMiddleware } from '@aion/errors';
import type { AuditRecorder } from '@aion/events';
import type { ClientOf } from '@aion/grpc';
import { JurisdictionRegistry } from '@aion/jurisdictions';
import type { TokenBucketStore } from '@aion/resilience';
import { httpTracingMiddleware, type Logger } from '@aion/telemetry';
import type { GatewayConfig } from '../../config';
import type { IdempotencyStore } from '../../core/idempotency';
import type { SessionService } from '../../core/sessions';
import type { Capacity } from '../capacity';
import {
  backpressure,
  fairShare,
  idempotency,
  jsonLimits,
  rateLimits,
  requestId,
  stripInternalHeaders,
} from './middleware';
import { deniedAudit } from './denied-audit';
import { routeTable } from './routes';
import { openAiErrorMiddleware } from './routes/openai';
import { mountRoutes } from './routing/mount';
import { openApiDocument } from './routing/openapi';

export interface GatewayDeps {
  config: GatewayConfig;
  logger: Logger;
  tasks: ClientOf<typeof TaskOrchestrator>;
  admin: ClientOf<typeof OrchestratorAdminService>;
  governance: ClientOf<typeof LearningGovernanceService>;
  sovereign: ClientOf<typeof SovereignService>;
  observability: ClientOf<typeof ObservabilityService>;
  pipeline: ClientOf<typeof PipelineService>;
  modules: ClientOf<typeof ModuleService>;
  keys: ApiKeyService;
  keyVerifier: ApiKeyVerifier;
  jwt?: TokenVerifier | undefined;
  sessions: SessionService;
  /** Admin actions (keys, users) on audit.activity. */
  audit: AuditRecorder;
  buckets: TokenBucketStore;
  idempotencyStore: IdempotencyStore;
  /** Request slots shared fairly per tenant and key (with the gRPC API). */
  requests: Capacity;
  /** Open event streams (SSE here, and the WebSocket's sockets), shared fairly. */
  streams: Capacity;
}

/** JSON bodies nested deeper than this are refused before any schema walks them. */
const MAX_JSON_DEPTH = 32;

/** As Express matches a static path: without a trailing slash, in any case. */
const routePathOf = (req: { path: string }) => req.path.replace(/(.)\/+$/, '$1').toLowerCase();

/** Bodies must be JSON (except on routes that stream theirs); anything else is refused. */
const jsonOnly =
  (streamed: (req: { path: string }) => boolean): RequestHandler =>
  (req, _res, next) => {
    const type = req.header('content-type');
    if (
      !streamed(req) &&
      ['POST', 'PUT', 'PATCH'].includes(req.method) &&
      Number(req.header('content-length') ?? 0) > 0 &&
      type &&
      !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)
    )
      return next(
        new AionError(
          'validation.unsupported_media_type',
          'send JSON with Content-Type: application/json',
        ),
      );
    next();
  };

/**
 * The public edge. Order matters: request id and security headers first; the backpressure bound
 * and per-IP limit before any work; then body parsing, authentication, per-key limit and
 * idempotency; then the route table; every failure leaves as the error envelope (in OpenAI's
 * shape on the OpenAI-compatible paths).
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
  // The document describes the table it is served from, so it is filled in once the table exists.
  const docs: { document?: unknown } = {};
  const routes = routeTable({
    ...deps,
    jurisdictions: JurisdictionRegistry.fromFile(config.regionsFile),
    defaultJurisdiction: config.defaultJurisdiction,
    requestTimeoutMs: config.requestTimeoutMs,
    sseHeartbeatMs: config.sseHeartbeatMs,
    pipelineUploadMaxBytes: config.pipelineUploadMaxBytes,
    document: () => docs.document,
  });
  const served = config.docs ? routes : routes.filter((r) => r.path !== '/openapi.json');
  docs.document = openApiDocument(served, process.env['npm_package_version'] ?? '0.1.0');
  const publicRoutes = served.filter((r) => r.access === 'public');
  const publicPaths = new Set(publicRoutes.map((r) => r.path));
  // Credentials and both rate limits before the body is read: a refused request costs no parsing.
  app.use(
    rateLimits(deps.buckets, limits, {
      authenticate: authenticate({
        apiKeys: deps.keyVerifier,
        ...(deps.jwt ? { jwt: deps.jwt } : {}),
      }),
      // Public routes (login, receipt keys, this document) do not look at credentials at all.
      isPublic: (req) => publicPaths.has(req.path),
    }),
  );
  // Routes that stream a raw body (uploads) read it themselves, never parsed nor buffered here.
  const streamedPaths = new Set(
    served.filter((r) => r.request.stream).map((r) => r.path.toLowerCase()),
  );
  const streamed = (req: { path: string }) => streamedPaths.has(routePathOf(req));
  app.use(jsonOnly(streamed));
  app.use(
    express.json({ limit: config.bodyLimit, strict: true, type: (req) => !streamed(req as never) }),
  );
  app.use(jsonLimits(MAX_JSON_DEPTH));
  app.use(mountRoutes(publicRoutes));
  app.use(fairShare(deps.requests));
  app.use(
    idempotency(deps.idempotencyStore, {
      ttlMs: config.idempotencyTtlHours * 3_600_000,
      // Longer than any request runs (Prefer: wait is at most 60 s on top of the timeout).
      leaseMs: config.requestTimeoutMs + 65_000,
      taskPaths: new Set(served.filter((r) => r.submitsTask).map((r) => r.path)),
      // A streamed body has no hash before it is read: its service keeps the key itself.
      streamedPaths,
      onStoreError: (err) =>
        deps.logger.warn('Idempotency-Key: a record was not written or an answer not sent', {
          reason: err instanceof Error ? err.message : String(err),
        }),
    }),
  );
  app.use(
    mountRoutes(
      served.filter((r) => r.access !== 'public'),
      { onDenied: deniedAudit(deps.audit, deps.logger) },
    ),
  );
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
