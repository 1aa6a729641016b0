import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type RequestHandler } from 'express';
import { Gauge } from 'prom-client';
import type { ServerCredentials } from '@grpc/grpc-js';
import type { InternalTokens } from '@aion/auth';
import type { ServiceName } from '@aion/config';
import { asBackgroundWork } from '@aion/db';
import { errorMiddleware, notFoundMiddleware } from '@aion/errors';
import { GrpcServer } from '@aion/grpc';
import { createLogger, type Logger, type ServiceMetrics } from '@aion/telemetry';
import { answerClientErrors } from './client-errors';
import type { BaseServiceConfig } from './config';
import type { Infrastructure, ReadinessCheck } from './infrastructure';

/** Something that runs in the background while the service is up: consumers, relays, timers. */
export interface BackgroundWorker {
  name: string;
  start(): Promise<void> | void;
  /** Stop taking work, finish what is in flight (commit offsets, flush the outbox). */
  stop(): Promise<void>;
}

export interface ServiceHostOptions {
  service: ServiceName;
  config: BaseServiceConfig;
  logger: Logger;
  metrics: ServiceMetrics;
  tokens: InternalTokens;
  infrastructure: Infrastructure;
  /** TLS of the gRPC port (mutual between services); registerGrpc may still choose its own. */
  grpcCredentials?: ServerCredentials;
  registerGrpc?: (server: GrpcServer) => void;
  /** Routes of the service's HTTP port, mounted after the probes and before the 404 handler. */
  registerHttp?: (app: Express) => void;
  /** Called with the HTTP server before it listens (WebSocket upgrades). */
  attachServer?: (server: HttpServer) => void;
  /** Called first when stopping, before HTTP closes (e.g. to close WebSocket clients). */
  onStopping?: () => void;
  workers?: BackgroundWorker[];
  /** What this instance is, shown on /healthz and /readyz (e.g. module-host's pool and accelerator). */
  details?: Record<string, string>;
}

export interface RunningService {
  httpPort: number;
  grpcPort: number;
  /** Where /readyz and /metrics are: the ops port, or the HTTP port when there is none. */
  opsPort: number;
  /** Graceful stop, bounded by the service's shutdown timeout. Idempotent. */
  stop(): Promise<void>;
}

/** Each dependency check is bounded so that /readyz answers within a second, whatever hangs. */
export const CHECK_TIMEOUT_MS = 800;
const READINESS_CACHE_MS = 1000;

/** One dependency as /healthz?verbose reports it. */
export interface DependencyHealth {
  state: 'up' | 'down';
  /** Whether the service is not ready without it (see ReadinessCheck.required). */
  required: boolean;
  /** How long the check took (the timeout when it hung). */
  latency_ms: number;
}

export interface HealthProbe {
  /** The service accepts work and every required dependency is up. */
  ready: boolean;
  dependencies: Record<string, DependencyHealth>;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)),
    ),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Checks every dependency at once, each bounded by `timeoutMs` (a hung check is down, never a
 * hung probe). Ready means "can serve now": every required dependency is up; the others (Kafka,
 * which the outbox absorbs; Redis, which the gateway degrades without) are reported, not gating.
 * Failure reasons go to `onFailure` (the log), never into the answer.
 */
export async function checkDependencies(
  checks: readonly ReadinessCheck[],
  options: { timeoutMs: number; onFailure?: (check: ReadinessCheck, reason: string) => void },
): Promise<HealthProbe> {
  const results = await Promise.all(
    checks.map(async (c) => {
      const started = performance.now();
      let state: DependencyHealth['state'] = 'up';
      try {
        // Through a promise: a check that throws synchronously is down like one that rejects.
        await withTimeout(
          Promise.resolve().then(() => c.check()),
          options.timeoutMs,
        );
      } catch (err) {
        state = 'down';
        options.onFailure?.(c, err instanceof Error ? err.message : String(err));
      }
      const health: DependencyHealth = {
        state,
        required: c.required,
        latency_ms: Math.round(performance.now() - started),
      };
      return [c.name, health] as const;
    }),
  );
  return {
    ready: results.every(([, d]) => !d.required || d.state === 'up'),
    dependencies: Object.fromEntries(results),
  };
}

/** What /readyz lists: the dependencies readiness depends on, ok or not. */
function requiredChecks(
  dependencies: Record<string, DependencyHealth>,
): Record<string, 'ok' | 'unavailable'> {
  const checks: Record<string, 'ok' | 'unavailable'> = {};
  for (const [name, d] of Object.entries(dependencies))
    if (d.required) checks[name] = d.state === 'up' ? 'ok' : 'unavailable';
  return checks;
}

/**
 * A gauge per dependency (up 1 / down 0) and its check latency, filled from the same cached
 * probe as /readyz when scraped: a scrape adds no dependency traffic of its own.
 */
function registerDependencyGauges(metrics: ServiceMetrics, probe: () => Promise<HealthProbe>) {
  const registers = [metrics.registry];
  const latency = new Gauge({
    name: 'aion_dependency_check_seconds',
    help: 'How long the last health check of a dependency took',
    labelNames: ['dependency'],
    registers: [],
  });
  // Registered first and filling both: a registry collects in registration order.
  new Gauge({
    name: 'aion_dependency_up',
    help: 'Whether a dependency answered its last health check (1) or not (0)',
    labelNames: ['dependency'],
    registers,
    async collect() {
      const { dependencies } = await probe();
      for (const [name, d] of Object.entries(dependencies)) {
        this.set({ dependency: name }, d.state === 'up' ? 1 : 0);
        latency.set({ dependency: name }, d.latency_ms / 1000);
      }
    },
  });
  metrics.registry.registerMetric(latency);
}

/**
 * Runs one service: its HTTP port (/healthz, /readyz, /metrics and any routes it adds), its gRPC
 * port (its services plus grpc.health.v1) and its background workers, and stops them in order.
 */
export class ServiceHost {
  private readonly app = express();
  private readonly opsApp = express();
  private ops: HttpServer | undefined;
  private lastProbe: { at: number; answer: Promise<HealthProbe> } | undefined;
  private readonly grpc: GrpcServer;
  private http: HttpServer | undefined;
  private stopping: Promise<void> | undefined;
  private accepting = false;

  constructor(private readonly options: ServiceHostOptions) {
    this.grpc = new GrpcServer({
      tokens: options.tokens,
      logger: options.logger,
      metrics: options.metrics,
    });
    if (options.grpcCredentials) this.grpc.useCredentials(options.grpcCredentials);
    options.registerGrpc?.(this.grpc);
    registerDependencyGauges(options.metrics, () => this.cachedProbe());
    this.app.disable('x-powered-by');
    this.app.use(options.metrics.httpMiddleware());
    // Dependency detail stays off a public HTTP port: verbose health goes with readiness.
    const publicHealth = options.config.opsPort !== undefined;
    this.app.get('/healthz', this.health(!publicHealth));
    // Readiness and metrics stay off a public HTTP port: they go to the ops port when there is one.
    if (options.config.opsPort === undefined) this.serveOps(this.app);
    else {
      this.opsApp.disable('x-powered-by');
      this.opsApp.use(options.metrics.httpMiddleware());
      this.opsApp.get('/healthz', this.health(true));
      this.serveOps(this.opsApp);
      this.opsApp.use(notFoundMiddleware());
      this.opsApp.use(errorMiddleware());
    }
    options.registerHttp?.(this.app);
    this.app.use(notFoundMiddleware());
    this.app.use(
      errorMiddleware((error, ctx) => {
        if (error.httpStatus >= 500)
          options.logger.error('request failed', {
            ...ctx,
            error_code: error.code,
            cause: error.cause instanceof Error ? error.cause.message : undefined,
          });
      }),
    );
  }

  /**
   * Liveness: 200 while the process serves HTTP, whatever its dependencies do (restarting the
   * process would not bring them back). `?verbose` adds each dependency's state and latency.
   */
  private health(verbose: boolean): RequestHandler {
    return (req, res, next) => {
      if (!verbose || req.query['verbose'] === undefined) {
        res.json({ status: 'ok', service: this.options.service, ...this.details() });
        return;
      }
      this.cachedProbe().then(
        ({ ready, dependencies }) =>
          res.json({
            status: 'ok',
            service: this.options.service,
            ...this.details(),
            ready,
            dependencies,
          }),
        next,
      );
    };
  }

  private serveOps(app: Express): void {
    app.get('/readyz', (_req, res, next) => {
      this.cachedProbe().then(
        ({ ready, dependencies }) =>
          res.status(ready ? 200 : 503).json({
            status: ready ? 'ready' : 'not_ready',
            service: this.options.service,
            ...this.details(),
            checks: requiredChecks(dependencies),
          }),
        next,
      );
    });
    app.get('/metrics', (_req, res, next) => {
      this.options.metrics
        .render()
        .then(({ contentType, body }) => res.type(contentType).send(body), next);
    });
  }

  private details(): { details?: Record<string, string> } {
    return this.options.details ? { details: this.options.details } : {};
  }

  /** Dependencies checked at most once a second, however often asked: a probe is not a load test. */
  private cachedProbe(): Promise<HealthProbe> {
    const now = Date.now();
    if (!this.lastProbe || now - this.lastProbe.at >= READINESS_CACHE_MS || !this.accepting)
      this.lastProbe = { at: now, answer: this.probe() };
    return this.lastProbe.answer;
  }

  /** The dependencies now (checkDependencies), ready only while this host accepts work. */
  async probe(timeoutMs = CHECK_TIMEOUT_MS): Promise<HealthProbe> {
    const probe = await checkDependencies(this.options.infrastructure.checks, {
      timeoutMs,
      onFailure: (check, reason) =>
        this.options.logger.warn('dependency check failed', {
          check: check.name,
          required: check.required,
          reason,
        }),
    });
    return { ...probe, ready: this.accepting && probe.ready };
  }

  async start(): Promise<RunningService> {
    const { config, logger } = this.options;
    const grpcPort = await this.grpc.start(config.host, config.grpcPort);
    this.http = createServer(this.app);
    answerClientErrors(this.http);
    this.options.attachServer?.(this.http);
    this.http.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      this.http!.once('error', reject);
      this.http!.listen(config.httpPort, config.host, () => resolve());
    });
    const httpPort = (this.http.address() as AddressInfo).port;
    let opsPort: number | undefined;
    if (config.opsPort !== undefined) {
      this.ops = createServer(this.opsApp);
      await new Promise<void>((resolve, reject) => {
        this.ops!.once('error', reject);
        this.ops!.listen(config.opsPort, config.host, () => resolve());
      });
      opsPort = (this.ops.address() as AddressInfo).port;
    }
    // What the workers start (relays, syncs, consumers) runs as the process's own work.
    for (const worker of this.options.workers ?? []) await asBackgroundWork(() => worker.start());
    this.accepting = true;
    this.grpc.setServing('SERVING');
    logger.info('service started', {
      http_port: httpPort,
      grpc_port: grpcPort,
      ...(opsPort !== undefined ? { ops_port: opsPort } : {}),
      host: config.host,
      mode: config.mode,
    });
    return { httpPort, grpcPort, opsPort: opsPort ?? httpPort, stop: () => this.stop() };
  }

  /** Order: stop being ready, stop accepting and drain HTTP and gRPC, stop workers, close adapters. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const { config, logger, infrastructure } = this.options;
    const deadline = Date.now() + config.shutdownTimeoutMs;
    const remaining = () => Math.max(100, deadline - Date.now());
    this.accepting = false;
    logger.info('shutting down', { timeout_ms: config.shutdownTimeoutMs });
    this.options.onStopping?.();
    const httpClosed = new Promise<void>((resolve) => {
      if (!this.http) return resolve();
      this.http.close(() => resolve());
      this.http.closeIdleConnections();
    });
    await Promise.all([
      this.grpc.shutdown(remaining()),
      withTimeout(httpClosed, remaining()).catch(() => this.http?.closeAllConnections()),
    ]);
    // The ops port closes last among the listeners: probes see not-ready until the end.
    this.ops?.close();
    this.ops?.closeAllConnections();
    for (const worker of [...(this.options.workers ?? [])].reverse()) {
      await withTimeout(worker.stop(), remaining()).catch((err: unknown) =>
        logger.warn('worker did not stop cleanly', {
          worker: worker.name,
          reason: err instanceof Error ? err.message : String(err),
        }),
      );
    }
    await withTimeout(infrastructure.close(), remaining()).catch(() => undefined);
    logger.info('stopped');
  }
}

/** For main.ts: stop gracefully on SIGTERM/SIGINT and exit; a second signal exits at once. */
export function stopOnSignals(running: RunningService, logger: Logger): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) process.exit(1);
    signalled = true;
    logger.info('signal received', { signal });
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('shutdown failed', {
          reason: err instanceof Error ? err.message : String(err),
        });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

export type { Express };

/**
 * The whole of a service's main.ts: load and validate config, start through the composition
 * root, stop gracefully on signals; a failed start logs why and exits 1.
 */
export function runServiceMain<C>(options: {
  service: ServiceName;
  loadConfig: () => C;
  create: (config: C) => { start(): Promise<RunningService> };
}): void {
  const logger = createLogger({ service: options.service });
  Promise.resolve()
    .then(async () => stopOnSignals(await options.create(options.loadConfig()).start(), logger))
    .catch((err: unknown) => {
      logger.error(`${options.service} failed to start`, {
        reason: err instanceof Error ? err.message : String(err),
      });
      process.exit(1);
    });
}
