import { status as GrpcStatus } from '@grpc/grpc-js';

/** How one error code surfaces on HTTP and on gRPC. */
export interface ErrorCodeSpec {
  http: number;
  grpc: GrpcStatus;
}

/**
 * Every error code the platform emits, by family. Services may register more codes with
 * `registerErrorCode`, but only inside an existing family so that clients can rely on prefixes.
 */
const codes = new Map<string, ErrorCodeSpec>([
  ['validation.invalid_argument', { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT }],
  ['validation.malformed_json', { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT }],
  ['validation.payload_too_large', { http: 413, grpc: GrpcStatus.INVALID_ARGUMENT }],
  ['validation.unsupported_media_type', { http: 415, grpc: GrpcStatus.INVALID_ARGUMENT }],
  ['validation.malformed_request', { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT }],
  ['validation.headers_too_large', { http: 431, grpc: GrpcStatus.INVALID_ARGUMENT }],
  ['validation.method_not_allowed', { http: 405, grpc: GrpcStatus.UNIMPLEMENTED }],
  ['validation.unprocessable', { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION }],
  ['validation.idempotency_key_reused', { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION }],
  ['validation.output_schema_mismatch', { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION }],
  ['validation.no_allowed_engine', { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION }],
  ['auth.unauthenticated', { http: 401, grpc: GrpcStatus.UNAUTHENTICATED }],
  ['auth.invalid_credentials', { http: 401, grpc: GrpcStatus.UNAUTHENTICATED }],
  ['auth.token_expired', { http: 401, grpc: GrpcStatus.UNAUTHENTICATED }],
  ['auth.account_locked', { http: 403, grpc: GrpcStatus.PERMISSION_DENIED }],
  ['auth.forbidden', { http: 403, grpc: GrpcStatus.PERMISSION_DENIED }],
  ['resource.not_found', { http: 404, grpc: GrpcStatus.NOT_FOUND }],
  ['resource.model_not_found', { http: 404, grpc: GrpcStatus.NOT_FOUND }],
  ['state.conflict', { http: 409, grpc: GrpcStatus.ABORTED }],
  // A pipeline upload a pending or running job still reads cannot be deleted yet.
  ['state.upload_in_use', { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION }],
  ['rate_limit.exceeded', { http: 429, grpc: GrpcStatus.RESOURCE_EXHAUSTED }],
  // RESOURCE_EXHAUSTED maps to 429 (Google's gRPC-HTTP mapping; OpenAI's insufficient_quota too).
  ['budget.exceeded', { http: 429, grpc: GrpcStatus.RESOURCE_EXHAUSTED }],
  ['sovereign.residency_violation', { http: 403, grpc: GrpcStatus.PERMISSION_DENIED }],
  ['sovereign.no_compliant_deployment', { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION }],
  ['sovereign.model_not_approved', { http: 403, grpc: GrpcStatus.PERMISSION_DENIED }],
  // A quota the tenant's current state exceeds: delete a rule first (409, like any state conflict).
  ['sovereign.rule_limit_exceeded', { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION }],
  ['internal.error', { http: 500, grpc: GrpcStatus.INTERNAL }],
  ['service.unavailable', { http: 503, grpc: GrpcStatus.UNAVAILABLE }],
  ['service.timeout', { http: 504, grpc: GrpcStatus.DEADLINE_EXCEEDED }],
]);

const FAMILIES = [
  'validation',
  'auth',
  'resource',
  'state',
  'rate_limit',
  'internal',
  'service',
  'sovereign',
  'budget',
];

export function registerErrorCode(code: string, spec: ErrorCodeSpec): void {
  const family = code.split('.')[0] ?? '';
  if (!FAMILIES.includes(family) || !/^[a-z_]+\.[a-z_.]+$/.test(code)) {
    throw new Error(`error code ${code} is not in a known family (${FAMILIES.join(', ')})`);
  }
  codes.set(code, spec);
}

export function specFor(code: string): ErrorCodeSpec {
  return codes.get(code) ?? codes.get('internal.error')!;
}

export function isKnownCode(code: string): boolean {
  return codes.has(code);
}

/** The generic code for a gRPC status, used when a peer sent no envelope. */
export function codeForGrpcStatus(grpcStatus: number): string {
  switch (grpcStatus) {
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.OUT_OF_RANGE:
      return 'validation.invalid_argument';
    case GrpcStatus.FAILED_PRECONDITION:
      return 'validation.unprocessable';
    case GrpcStatus.UNAUTHENTICATED:
      return 'auth.unauthenticated';
    case GrpcStatus.PERMISSION_DENIED:
      return 'auth.forbidden';
    case GrpcStatus.NOT_FOUND:
      return 'resource.not_found';
    case GrpcStatus.ALREADY_EXISTS:
    case GrpcStatus.ABORTED:
      return 'state.conflict';
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return 'rate_limit.exceeded';
    case GrpcStatus.UNAVAILABLE:
      return 'service.unavailable';
    case GrpcStatus.DEADLINE_EXCEEDED:
    case GrpcStatus.CANCELLED:
      return 'service.timeout';
    default:
      return 'internal.error';
  }
}
