import type { ChannelCredentials } from '@grpc/grpc-js';
import { InternalTokens } from '@aion/auth';
import type { ServiceName } from '@aion/config';
import { OutboxRelay, OutboxWriter, type OutboxTable } from '@aion/events';
import type { GrpcServer } from '@aion/grpc';
import { createLogger, initTracing, ServiceMetrics, type Logger } from '@aion/telemetry';
import { PUBLIC_GRPC_SERVICES, type BaseServiceConfig } from './config';
import { ServiceHost, type BackgroundWorker, type Express, type RunningService } from './host';
import {
  openInfrastructure,
  type EmbeddedShared,
  type Infrastructure,
  type InfrastructureNeeds,
} from './infrastructure';
import { exportOutboxLag } from './outbox-lag';
import { internalGrpcTransport } from './transport';

/** Handed to a service's wiring once its infrastructure is open. */
export interface BuildContext<C extends BaseServiceConfig> {
  config: C;
  logger: Logger;
  metrics: ServiceMetrics;
  tokens: InternalTokens;
  /** For createGrpcClient's `credentials`: mutual TLS when AION_GRPC_TLS_* are set, else plaintext. */
  grpcCredentials: ChannelCredentials;
  /** For createGrpcClient's `inProcess`: the co-located profile (AION_CO_LOCATED). */
  coLocated: boolean;
  infrastructure: Infrastructure;
  /** Present when the service declared an outbox table and has a database and bus. */
  outbox?: { writer: OutboxWriter; relay: OutboxRelay };
}

export interface ServiceWiring {
  registerGrpc?: (server: GrpcServer) => void;
  registerHttp?: (app: Express) => void;
  attachServer?: (server: import('node:http').Server) => void;
  onStopping?: () => void;
  workers?: BackgroundWorker[];
  /** What this instance is, shown on /healthz and /readyz. */
  details?: Record<string, string>;
}

export interface ServiceSpec<C extends BaseServiceConfig> {
  service: ServiceName;
  config: C;
  needs: InfrastructureNeeds;
  /** The service's `<prefix>_outbox` table: its relay runs as a worker and is flushed on stop. */
  outbox?: OutboxTable;
  /** How often the relay sweeps for rows nobody published or nudged it about (default 2 s). */
  outboxPollIntervalMs?: number;
  /** Embedded launcher only: the in-process bus and the generated internal-token secret. */
  embedded?: { shared: EmbeddedShared; internalTokenSecret: string };
  logger?: Logger;
  wire?: (ctx: BuildContext<C>) => ServiceWiring | Promise<ServiceWiring>;
}

/** What every composition root returns. */
export interface ServiceLifecycle {
  start(): Promise<RunningService>;
  stop(): Promise<void>;
}

/**
 * Builds a service from its spec: logger, metrics, tracing, internal tokens, infrastructure,
 * outbox relay, then the service's own wiring. Nothing is opened until `start()`.
 */
export function defineService<C extends BaseServiceConfig>(spec: ServiceSpec<C>): ServiceLifecycle {
  let running: RunningService | undefined;
  let infrastructure: Infrastructure | undefined;
  return {
    start: async () => {
      if (running) return running;
      const { config, service } = spec;
      const logger =
        spec.logger ??
        createLogger({ service, level: config.logLevel, piiFields: config.logPiiFields });
      const metrics = new ServiceMetrics(service);
      // Each process its service's name in the traces (OTEL_SERVICE_NAME wins, as OpenTelemetry
      // has it); the embedded launcher's one process of six services is 'aion'.
      initTracing({
        serviceName:
          process.env['OTEL_SERVICE_NAME'] || (config.mode === 'embedded' ? 'aion' : service),
        otlpEndpoint: config.otelExporterUrl,
      });
      const secret = spec.embedded?.internalTokenSecret ?? config.internalTokenSecret;
      if (!secret) throw new Error('AION_INTERNAL_TOKEN_SECRET is required');
      const tokens = new InternalTokens(secret, service);
      // Certificates are read before anything opens: a bad file stops the start, naming its variable.
      const transport = internalGrpcTransport(config);
      infrastructure = await openInfrastructure({
        service,
        config,
        needs: spec.needs,
        shared: spec.embedded?.shared,
        logger,
        metrics,
      });
      const ctx: BuildContext<C> = {
        config,
        logger,
        metrics,
        tokens,
        grpcCredentials: transport.client,
        coLocated:
          config.coLocated === 'true' ||
          (config.coLocated === 'auto' && config.mode === 'embedded'),
        infrastructure,
      };
      const workers: BackgroundWorker[] = [];
      if (spec.outbox && infrastructure.database && infrastructure.bus) {
        const relay = new OutboxRelay({
          db: infrastructure.database.db,
          table: spec.outbox,
          bus: infrastructure.bus,
          logger,
          ...(spec.outboxPollIntervalMs ? { pollIntervalMs: spec.outboxPollIntervalMs } : {}),
          // Embedded (PGlite): published rows go at once, so nothing but the backlog needs vacuum.
          ...(config.mode === 'embedded' ? { retentionMs: 0 } : {}),
        });
        ctx.outbox = {
          writer: new OutboxWriter(spec.outbox, `aion/${service}`, relay),
          relay,
        };
        exportOutboxLag(metrics, infrastructure.database.db, spec.outbox);
        workers.push({
          name: 'outbox-relay',
          start: () => relay.start(),
          stop: async () => {
            await relay.stop();
            await relay.flush(Math.min(5000, config.shutdownTimeoutMs / 2));
          },
        });
      }
      try {
        const wiring = (await spec.wire?.(ctx)) ?? {};
        const host = new ServiceHost({
          service,
          config,
          logger,
          metrics,
          tokens,
          infrastructure,
          ...(transport.server && !PUBLIC_GRPC_SERVICES.includes(service)
            ? { grpcCredentials: transport.server }
            : {}),
          ...(wiring.registerGrpc ? { registerGrpc: wiring.registerGrpc } : {}),
          ...(wiring.registerHttp ? { registerHttp: wiring.registerHttp } : {}),
          ...(wiring.attachServer ? { attachServer: wiring.attachServer } : {}),
          ...(wiring.onStopping ? { onStopping: wiring.onStopping } : {}),
          ...(wiring.details ? { details: wiring.details } : {}),
          workers: [...workers, ...(wiring.workers ?? [])],
        });
        running = await host.start();
        return running;
      } catch (err) {
        await infrastructure.close();
        throw err;
      }
    },
    stop: async () => {
      if (running) await running.stop();
      else await infrastructure?.close();
      running = undefined;
    },
  };
}
