import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ErrorEnvelopeSchema } from '@aion/contracts';
import {
  Metadata,
  ServerInterceptingCall,
  status as GrpcStatus,
  type ServerInterceptor,
  type ServiceError,
} from '@grpc/grpc-js';
import { AionError, type ErrorDetail } from './aion-error';
import { codeForGrpcStatus, isKnownCode } from './codes';

/** Binary trailer that carries the exact envelope so the gateway can rebuild the same error. */
export const ERROR_TRAILER = 'aion-error-bin';

function envelopeMetadata(error: AionError, requestId: string): Metadata {
  const metadata = new Metadata();
  const envelope = create(ErrorEnvelopeSchema, {
    errorCode: error.code,
    message: error.message,
    requestId,
    details: (error.details ?? []).map((d) => ({
      field: d.field ?? '',
      reason: d.reason ?? '',
      message: d.message,
    })),
  });
  metadata.set(ERROR_TRAILER, Buffer.from(toBinary(ErrorEnvelopeSchema, envelope)));
  if (error.retryAfterSeconds !== undefined)
    metadata.set('retry-after', String(error.retryAfterSeconds));
  return metadata;
}

/** What a server handler sends when it fails: status, safe message and the envelope trailer. */
export function toGrpcStatus(
  error: AionError,
  requestId: string,
): { code: number; details: string; metadata: Metadata } {
  return {
    code: error.grpcStatus,
    details: error.message,
    metadata: envelopeMetadata(error, requestId),
  };
}

/** Rebuilds the AionError a peer raised from a gRPC failure. */
export function fromGrpcError(err: Partial<ServiceError>): AionError {
  const raw = err.metadata?.get(ERROR_TRAILER)[0];
  if (Buffer.isBuffer(raw)) {
    try {
      const envelope = fromBinary(ErrorEnvelopeSchema, raw);
      const details: ErrorDetail[] = envelope.details.map((d) => ({
        ...(d.field ? { field: d.field } : {}),
        ...(d.reason ? { reason: d.reason } : {}),
        message: d.message,
      }));
      const retryAfter = Number(err.metadata?.get('retry-after')[0]);
      return new AionError(envelope.errorCode, envelope.message, {
        ...(details.length ? { details } : {}),
        ...(Number.isFinite(retryAfter) ? { retryAfterSeconds: retryAfter } : {}),
        cause: err,
      });
    } catch {
      // A corrupt trailer is treated like a missing one.
    }
  }
  const code = codeForGrpcStatus(err.code ?? GrpcStatus.UNKNOWN);
  const message =
    code === 'internal.error'
      ? 'an internal error occurred'
      : code === 'service.unavailable'
        ? 'a dependency is unavailable'
        : code === 'service.timeout'
          ? 'the operation timed out'
          : 'the request failed';
  return new AionError(code, message, { cause: err });
}

/**
 * Server interceptor that guarantees every non-OK status carries the envelope trailer and no
 * internal text: a handler that threw something other than an AionError (grpc-js would pass its
 * message through) is answered with `internal.error` and a generic message instead.
 */
export const errorEnvelopeInterceptor: ServerInterceptor = (_methodDescriptor, call) =>
  new ServerInterceptingCall(call, {
    sendStatus: (status, next) => {
      if (status.code === GrpcStatus.OK || status.metadata?.get(ERROR_TRAILER).length) {
        next(status);
        return;
      }
      const requestId = String(status.metadata?.get('x-request-id')[0] ?? '');
      const code = codeForGrpcStatus(status.code);
      const error =
        isKnownCode(code) && code !== 'internal.error'
          ? new AionError(code, 'the request failed')
          : AionError.internal();
      const safe = toGrpcStatus(error, requestId);
      next({ code: status.code, details: safe.details, metadata: safe.metadata });
    },
  });
