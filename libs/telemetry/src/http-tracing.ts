import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { NextFunction, Request, Response } from 'express';
import { extractTraceContext, tracer } from './tracing';

/** Continues the caller's W3C trace (traceparent header) in a server span for the request. */
export function httpTracingMiddleware(serviceName: string) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const parent = extractTraceContext(req.headers);
    const span = tracer(serviceName).startSpan(
      `${req.method} ${req.path}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method } },
      parent,
    );
    res.on('finish', () => {
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(trace.setSpan(parent, span), next);
  };
}
