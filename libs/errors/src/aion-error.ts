import { specFor } from './codes';
import { DEPENDENCY_RETRY_AFTER_SECONDS, isDependencyUnavailable } from './dependency';

export interface ErrorDetail {
  field?: string;
  reason?: string;
  message: string;
}

/** The body every failed request gets, over HTTP and inside gRPC trailers. */
export interface ErrorEnvelope {
  error_code: string;
  message: string;
  details?: ErrorDetail[];
  request_id: string;
}

export interface AionErrorOptions {
  details?: ErrorDetail[];
  /** Internal cause: logged, never sent to a client. */
  cause?: unknown;
  /**
   * Seconds a client should wait before retrying (429, 503), when the thrower chose them: a
   * refusal of load it shed. Absent on a 503 that says something is down (breakers count those);
   * clients still get a Retry-After for it, see retryAfterFor.
   */
  retryAfterSeconds?: number;
}

/**
 * An error whose code and message are safe to show a client. Anything that is not an
 * AionError is reported to clients as `internal.error` with a generic message.
 */
export class AionError extends Error {
  readonly code: string;
  readonly details: ErrorDetail[] | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: string, message: string, options: AionErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AionError';
    this.code = code;
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  get httpStatus(): number {
    return specFor(this.code).http;
  }

  get grpcStatus(): number {
    return specFor(this.code).grpc;
  }

  toEnvelope(requestId: string): ErrorEnvelope {
    const envelope: ErrorEnvelope = {
      error_code: this.code,
      message: this.message,
      request_id: requestId,
    };
    if (this.details && this.details.length > 0) envelope.details = this.details;
    return envelope;
  }

  static validation(message: string, details?: ErrorDetail[]): AionError {
    return new AionError('validation.invalid_argument', message, details ? { details } : {});
  }

  static notFound(what: string, id: string): AionError {
    return new AionError('resource.not_found', `${what} ${id} was not found`);
  }

  static conflict(message: string): AionError {
    return new AionError('state.conflict', message);
  }

  static unauthenticated(message = 'authentication required'): AionError {
    return new AionError('auth.unauthenticated', message);
  }

  static forbidden(message = 'you are not allowed to do this'): AionError {
    return new AionError('auth.forbidden', message);
  }

  /** A dependency or peer is away: 503 / UNAVAILABLE (clients get Retry-After, see retryAfterFor). */
  static unavailable(
    cause?: unknown,
    message = 'a dependency is unavailable; retry later',
  ): AionError {
    return new AionError('service.unavailable', message, cause === undefined ? {} : { cause });
  }

  static internal(cause?: unknown): AionError {
    return new AionError(
      'internal.error',
      'an internal error occurred',
      cause === undefined ? {} : { cause },
    );
  }
}

/**
 * The Retry-After a client is sent for `error`: the one its thrower chose, else, for any 503 (a
 * dependency or peer that is down, whichever path built it), DEPENDENCY_RETRY_AFTER_SECONDS.
 */
export function retryAfterFor(error: AionError): number | undefined {
  return (
    error.retryAfterSeconds ??
    (error.httpStatus === 503 ? DEPENDENCY_RETRY_AFTER_SECONDS : undefined)
  );
}

const GENERIC_INTERNAL = 'an internal error occurred';

/**
 * Turns anything thrown into an AionError that is safe to show. A lost connection to a
 * dependency (see isDependencyUnavailable) becomes `service.unavailable` with Retry-After; other
 * unknown errors become `internal.error` with a generic message: their text may hold SQL, paths
 * or secrets.
 */
export function toAionError(err: unknown): AionError {
  if (err instanceof AionError) return err;
  if (isDependencyUnavailable(err)) return AionError.unavailable(err);
  return new AionError('internal.error', GENERIC_INTERNAL, { cause: err });
}

/** Builds validation details from a zod-like issue list without depending on zod. */
export function detailsFromIssues(
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string; code?: string }>,
): ErrorDetail[] {
  return issues.map((issue) => ({
    field: issue.path.map(String).join('.') || '(root)',
    ...(issue.code ? { reason: issue.code } : {}),
    message: issue.message,
  }));
}
