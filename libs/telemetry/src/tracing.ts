import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

export interface TracingOptions {
  serviceName: string;
  /** OTLP/HTTP endpoint (e.g. http://otel-collector:4318). Export is off when unset. */
  otlpEndpoint?: string | undefined;
  /** Extra processors (tests use an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
}

let provider: NodeTracerProvider | undefined;
/** Spans leave the process (an exporter or a test's processor): inSpan only makes spans then. */
let exporting = false;

/**
 * Registers the tracer provider and W3C propagator. Spans are always created (so logs carry
 * trace ids and context crosses HTTP, gRPC and Kafka), but exported only when an endpoint is set.
 * Idempotent: the all-in-one launcher starts six services in one process.
 */
export function initTracing(options: TracingOptions): void {
  if (provider) return;
  const processors: SpanProcessor[] = [...(options.spanProcessors ?? [])];
  if (options.otlpEndpoint) {
    const url = `${options.otlpEndpoint.replace(/\/$/, '')}/v1/traces`;
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url })));
  }
  exporting = processors.length > 0;
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: processors,
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
}

export async function shutdownTracing(): Promise<void> {
  await provider?.shutdown();
}

export function tracer(name = 'aion') {
  return trace.getTracer(name);
}

type Carrier = Record<string, string | Buffer | (string | Buffer)[] | undefined>;

const getter: TextMapGetter<Carrier> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const raw = carrier[key] ?? carrier[key.toLowerCase()];
    const first = Array.isArray(raw) ? raw[0] : raw;
    if (first === undefined) return undefined;
    return Buffer.isBuffer(first) ? first.toString('utf8') : first;
  },
};

const setter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** Headers (traceparent, tracestate) for the active context: HTTP, gRPC metadata or Kafka. */
export function injectTraceHeaders(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier, setter);
  return carrier;
}

/** The context described by incoming headers of any of the three transports. */
export function extractTraceContext(headers: Carrier, base: Context = context.active()): Context {
  return propagation.extract(base, headers, getter);
}

export function currentTraceparent(): string | undefined {
  return injectTraceHeaders()['traceparent'];
}

/**
 * Runs `fn` in a span of its own under `parent` (a served gRPC call: the caller's context), ended
 * when `fn` returns or its promise settles, marked an error when it throws: so each service that
 * serves part of a request shows in its trace, not only the one that took the HTTP request.
 * With nothing exported it only continues the parent's context (logs keep the trace id): a
 * span costs about 5 µs per call, for nobody.
 */
export function inSpan<T>(
  name: string,
  parent: Context,
  fn: () => T,
  kind: SpanKind = SpanKind.SERVER,
): T {
  if (!exporting) return context.with(parent, fn);
  const span = tracer().startSpan(name, { kind }, parent);
  const end = (failed: boolean) => {
    if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  };
  let result: T;
  try {
    result = context.with(trace.setSpan(parent, span), fn);
  } catch (err) {
    end(true);
    throw err;
  }
  if (!(result instanceof Promise)) {
    end(false);
    return result;
  }
  return result.then(
    (value: unknown) => {
      end(false);
      return value;
    },
    (err: unknown) => {
      end(true);
      throw err;
    },
  ) as T;
}
