import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds; a latency SLO's threshold must be one of them (a `le` bucket must exist for it). */
export const LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * One registry per service (six can share a process in embedded mode) with the RED metrics —
 * rate, errors, duration — of its HTTP handlers, gRPC methods and Kafka consumers.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly grpcHandled: Counter<'method' | 'code'>;
  readonly grpcClientCalls: Counter<'method' | 'transport'>;
  readonly grpcDuration: Histogram<'method' | 'code'>;
  readonly consumerMessages: Counter<'topic' | 'outcome'>;
  /** HTTP requests and gRPC calls being served now: what an HPA scales on beside CPU. */
  readonly requestsInFlight: Gauge<'kind'>;
  readonly consumerDuration: Histogram<'topic' | 'outcome'>;

  constructor(
    readonly service: string,
    options: { defaultMetrics?: boolean } = {},
  ) {
    this.registry.setDefaultLabels({ service });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.httpRequests = new Counter({
      name: 'aion_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'aion_http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.grpcHandled = new Counter({
      name: 'aion_grpc_server_handled_total',
      help: 'gRPC calls by method and status code',
      labelNames: ['method', 'code'],
      registers,
    });
    this.grpcDuration = new Histogram({
      name: 'aion_grpc_server_handling_seconds',
      help: 'gRPC call duration',
      labelNames: ['method', 'code'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.grpcClientCalls = new Counter({
      name: 'aion_grpc_client_calls_total',
      help: 'Calls to other services by method and transport (network: gRPC; in_process: co-located)',
      labelNames: ['method', 'transport'],
      registers,
    });
    this.requestsInFlight = new Gauge({
      name: 'aion_requests_in_flight',
      help: 'HTTP requests (kind="http") and gRPC calls (kind="grpc") being served now',
      labelNames: ['kind'],
      registers,
    });
    this.consumerMessages = new Counter({
      name: 'aion_kafka_consumer_messages_total',
      help: 'Consumed messages by outcome (ok, retried, dead_lettered, duplicate)',
      labelNames: ['topic', 'outcome'],
      registers,
    });
    this.consumerDuration = new Histogram({
      name: 'aion_kafka_consumer_processing_seconds',
      help: 'Message processing duration',
      labelNames: ['topic', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
  }

  /** Express middleware; the route label is the matched route pattern, never the raw path. */
  httpMiddleware() {
    return (req: Request, res: Response, next: NextFunction): void => {
      const start = process.hrtime.bigint();
      this.requestsInFlight.inc({ kind: 'http' });
      // 'close' comes once, whether the response finished or the client went away.
      res.once('close', () => this.requestsInFlight.dec({ kind: 'http' }));
      res.on('finish', () => {
        const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
        const labels = { method: req.method, route, status: String(res.statusCode) };
        this.httpRequests.inc(labels);
        this.httpDuration.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
      });
      next();
    };
  }

  /** A call this service made to another, over gRPC or in-process (the co-located profile). */
  observeGrpcClient(method: string, transport: 'network' | 'in_process'): void {
    this.grpcClientCalls.inc({ method, transport });
  }

  observeGrpc(method: string, code: number, seconds: number): void {
    const labels = { method, code: String(code) };
    this.grpcHandled.inc(labels);
    this.grpcDuration.observe(labels, seconds);
  }

  observeConsumer(
    topic: string,
    outcome: 'ok' | 'retried' | 'dead_lettered' | 'duplicate',
    seconds: number,
  ): void {
    this.consumerMessages.inc({ topic, outcome });
    this.consumerDuration.observe({ topic, outcome }, seconds);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
