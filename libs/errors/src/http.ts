import type { ErrorRequestHandler, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { AionError, toAionError } from './aion-error';

/** Where the request id lives once the gateway's request-id middleware has run. */
export function requestIdOf(req: Request, res: Response): string {
  const fromLocals = res.locals['requestId'];
  if (typeof fromLocals === 'string' && fromLocals) return fromLocals;
  const header = req.header('x-request-id');
  return header && header.length <= 128 ? header : randomUUID();
}

/** body-parser raises errors with a `type`; map them to validation codes instead of a 500. */
function fromBodyParser(err: unknown): AionError | undefined {
  if (typeof err !== 'object' || err === null || !('type' in err)) return undefined;
  switch ((err as { type: unknown }).type) {
    case 'entity.parse.failed':
      return new AionError('validation.malformed_json', 'request body is not valid JSON');
    case 'entity.too.large':
      return new AionError('validation.payload_too_large', 'request body is too large');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AionError(
        'validation.unsupported_media_type',
        'request body encoding is not supported',
      );
    case 'request.aborted':
      return new AionError('validation.invalid_argument', 'request was aborted by the client');
    default:
      return undefined;
  }
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
    const error = fromBodyParser(err) ?? toAionError(err);
    const requestId = requestIdOf(req, res);
    log?.(error, { requestId, method: req.method, path: req.path });
    if (res.headersSent) {
      res.end();
      return;
    }
    if (error.retryAfterSeconds !== undefined)
      res.setHeader('Retry-After', String(Math.ceil(error.retryAfterSeconds)));
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
