import { context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import express from 'express';
import { PassThrough } from 'node:stream';
import request from 'supertest';
import { runWithTenant } from '@aion/tenancy';
import { createLogger } from './logger';
import { httpTracingMiddleware } from './http-tracing';
import { ServiceMetrics } from './metrics';
import { extractTraceContext, initTracing, injectTraceHeaders, inSpan, tracer } from './tracing';

const exporter = new InMemorySpanExporter();
initTracing({ serviceName: 'test', spanProcessors: [new SimpleSpanProcessor(exporter)] });

function capture() {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
  });
  return { stream, lines };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('logger', () => {
  it('writes JSON with service, tenant, request, trace and span ids', async () => {
    const { stream, lines } = capture();
    const logger = createLogger({ service: 'gateway', stream });
    const span = tracer().startSpan('op');
    context.with(trace.setSpan(context.active(), span), () =>
      runWithTenant({ tenantId: 'acme', subject: 's', roles: [], requestId: 'req-1' }, () =>
        logger.info('hello'),
      ),
    );
    span.end();
    await flush();
    expect(lines[0]).toMatchObject({
      level: 'info',
      message: 'hello',
      service: 'gateway',
      tenant_id: 'acme',
      request_id: 'req-1',
      trace_id: span.spanContext().traceId,
      span_id: span.spanContext().spanId,
    });
  });

  it('masks default and configured PII fields at any depth', async () => {
    const { stream, lines } = capture();
    const logger = createLogger({ service: 'x', stream, piiFields: ['customer_name'] });
    logger.info('login', {
      password: 'hunter2',
      user: { email: 'a@b.c', customer_name: 'Ada', id: 7 },
      items: [{ token: 't' }],
    });
    await flush();
    const text = JSON.stringify(lines[0]);
    expect(text).not.toMatch(/hunter2|a@b\.c|Ada|"t"/);
    expect(lines[0]).toMatchObject({ user: { id: 7, email: '[REDACTED]' } });
  });

  it('honours the level', async () => {
    const { stream, lines } = capture();
    createLogger({ service: 'x', stream, level: 'warn' }).info('quiet');
    await flush();
    expect(lines).toHaveLength(0);
  });
});

describe('trace propagation', () => {
  it('round-trips the context through headers of every transport', () => {
    const span = tracer().startSpan('producer');
    const headers = context.with(trace.setSpan(context.active(), span), () => injectTraceHeaders());
    expect(headers['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    const asBuffers = { traceparent: Buffer.from(headers['traceparent']!) };
    for (const carrier of [headers, asBuffers]) {
      const extracted = trace.getSpanContext(extractTraceContext(carrier));
      expect(extracted?.traceId).toBe(span.spanContext().traceId);
    }
    span.end();
  });

  it('continues an incoming HTTP traceparent in a server span', async () => {
    exporter.reset();
    const app = express();
    app.use(httpTracingMiddleware('svc'));
    app.get('/x', (_req, res) => {
      res.json({ trace: trace.getActiveSpan()?.spanContext().traceId });
    });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await request(app)
      .get('/x')
      .set('traceparent', `00-${traceId}-00f067aa0ba902b7-01`);
    expect(res.body.trace).toBe(traceId);
    expect(exporter.getFinishedSpans().map((s) => s.spanContext().traceId)).toContain(traceId);
  });

  it('serves a call in a child span of the caller, ended when its promise settles', async () => {
    exporter.reset();
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const parent = extractTraceContext({ traceparent: `00-${traceId}-b7ad6b7169203331-01` });
    let release!: () => void;
    const pending = inSpan('aion.v1.Svc/Call', parent, async () => {
      const inside = trace.getActiveSpan()!.spanContext().traceId;
      await new Promise<void>((r) => (release = r));
      return inside;
    });
    await flush();
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    release();
    expect(await pending).toBe(traceId);
    const [span] = exporter.getFinishedSpans();
    expect(span).toMatchObject({ name: 'aion.v1.Svc/Call', status: { code: 0 } });
    expect(span!.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
  });

  it('marks the span an error when the call throws or rejects, and passes the error on', async () => {
    exporter.reset();
    const parent = context.active();
    expect(() =>
      inSpan('sync', parent, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    await expect(inSpan('async', parent, () => Promise.reject(new Error('late')))).rejects.toThrow(
      'late',
    );
    expect(exporter.getFinishedSpans().map((s) => [s.name, s.status.code])).toEqual([
      ['sync', 2],
      ['async', 2],
    ]);
  });
});

describe('ServiceMetrics', () => {
  it('records RED metrics for HTTP by route pattern, gRPC and consumers', async () => {
    const metrics = new ServiceMetrics('svc', { defaultMetrics: false });
    const app = express();
    app.use(metrics.httpMiddleware());
    app.get('/tasks/:id', (_req, res) => {
      res.status(404).end();
    });
    await request(app).get('/tasks/123');
    metrics.observeGrpc('/aion.v1.AionTasks/Submit', 0, 0.01);
    metrics.observeConsumer('tasks.lifecycle', 'dead_lettered', 0.002);
    const { body } = await metrics.render();
    expect(body).toContain(
      'aion_http_requests_total{method="GET",route="/tasks/:id",status="404",service="svc"} 1',
    );
    expect(body).not.toContain('/tasks/123');
    expect(body).toContain(
      'aion_grpc_server_handled_total{method="/aion.v1.AionTasks/Submit",code="0",service="svc"} 1',
    );
    expect(body).toContain(
      'aion_kafka_consumer_messages_total{topic="tasks.lifecycle",outcome="dead_lettered",service="svc"} 1',
    );
  });

  it('counts HTTP requests in flight while they are served, also when the client goes away', async () => {
    const metrics = new ServiceMetrics('svc', { defaultMetrics: false });
    const inFlight = async () =>
      (await metrics.requestsInFlight.get()).values.find((v) => v.labels.kind === 'http')?.value ??
      0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const inside = new Promise<void>((resolve) => (arrived = resolve));
    const app = express();
    app.use(metrics.httpMiddleware());
    app.get('/slow', async (_req, res) => {
      arrived();
      await held;
      res.end('done');
    });
    const server = app.listen(0);
    const port = (server.address() as { port: number }).port;
    try {
      const done = fetch(`http://127.0.0.1:${port}/slow`).then((r) => r.text());
      await inside;
      expect(await inFlight()).toBe(1);
      release();
      expect(await done).toBe('done');
      await new Promise((resolve) => setImmediate(resolve));
      expect(await inFlight()).toBe(0);
      // A client that leaves mid-request: the request is no longer in flight.
      const controller = new AbortController();
      let left!: () => void;
      const gone = new Promise<void>((resolve) => (left = resolve));
      app.get('/abandoned', (req, res) => {
        req.socket.once('close', () => left());
        controller.abort();
        void res;
      });
      await fetch(`http://127.0.0.1:${port}/abandoned`, { signal: controller.signal }).catch(
        () => undefined,
      );
      await gone;
      await new Promise((resolve) => setImmediate(resolve));
      expect(await inFlight()).toBe(0);
    } finally {
      server.close();
    }
  });
});
