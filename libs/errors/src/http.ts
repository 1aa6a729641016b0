import type { ErrorRequestHandler, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { AionError, retryAfterFor, toAionError } from './aion-error';

/** Where the request id lives once the gateway's request-id middleware has run. */
export function requestIdOf(req: Request, res: Response): string {
  const fromLocals = res.locals['requestId'];
  if (typeof fromLocals === 'string' && fromLocals) return fromLocals;
  const header = req.header('x-request-id');
  return header && header.length <= 128 ? header : randomUUID();
}

/**
 * Errors the HTTP stack raises before a route runs (body-parser's, carrying a `type`; the
 * router's, carrying a 4xx `status`, e.g. a path that is not valid percent-encoding) as
 * validation errors instead of a 500.
 */
function fromHttpStack(err: unknown): AionError | undefined {
  if (typeof err !== 'object' || err === null || err instanceof AionError) return undefined;
  const { type, status } = err as { type?: unknown; status?: unknown };
  switch (type) {
    case 'entity.parse.failed':
      return new AionError('validation.malformed_json', 'request body is not valid JSON');
    case 'entity.too.large':
      return new AionError('validation.payload_too_large', 'request body is too large');
    case 'encoding.unsupported':
      return AionError.validation('the Content-Encoding of the body is not supported', [
        { field: 'Content-Encoding', message: 'use gzip, deflate, br or none' },
      ]);
    case 'charset.unsupported':
      return new AionError(
        'validation.unsupported_media_type',
        'request body charset is not supported; send UTF-8',
      );
    case 'request.aborted':
      return new AionError('validation.invalid_argument', 'request was aborted by the client');
  }
  if (typeof status === 'number' && status >= 400 && status < 500)
    return err instanceof URIError || /decode/i.test(String((err as Error).message))
      ? AionError.validation('the path is not valid percent-encoding')
      : AionError.validation('the request could not be read (check its encoding)');
  return undefined;
}

/** Anything thrown while serving HTTP as an AionError that is safe to show. */
export function toHttpError(err: unknown): AionError {
  return fromHttpStack(err) ?? toAionError(err);
}

export type ErrorLogger = (
  error: AionError,
  context: { requestId: string; method: string; path: string },
) => void;

/**
 * Express error handler: every failure leaves as `{error_code, message, details?, request_id}`.
 * Internal failures are logged with their cause and answered with a generic message.
 */
export function errorMiddleware(log?: ErrorLogger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const error = toHttpError(err);
    const requestId = requestIdOf(req, res);
    log?.(error, { requestId, method: req.method, path: req.path });
    if (res.headersSent) {
      res.end();
      return;
    }
    const retryAfter = retryAfterFor(error);
    if (retryAfter !== undefined) res.setHeader('Retry-After', String(Math.ceil(retryAfter)));
    res.setHeader('X-Request-ID', requestId);
    res.status(error.httpStatus).json(error.toEnvelope(requestId));
  };
}

/** Final handler for routes nobody serves. */
export function notFoundMiddleware(): (req: Request, res: Response) => void {
  return (req, res) => {
    const requestId = requestIdOf(req, res);
    res
      .status(404)
      .json(
        new AionError('resource.not_found', `no route for ${req.method} ${req.path}`).toEnvelope(
          requestId,
        ),
      );
  };
}
