import { randomUUID } from 'node:crypto';
import { ServerInterceptingCall, type Metadata, type ServerInterceptor } from '@grpc/grpc-js';
import { AionError, toAionError, toGrpcStatus } from '@aion/errors';
import type { ApiKeyVerifier, TokenVerifier } from './express';
import type { InternalTokens } from './internal-token';
import type { Principal } from './principal';
import { can, type Permission } from './rbac';

/** Metadata key the interceptor writes the verified principal to (any incoming value is dropped). */
export const VERIFIED_PRINCIPAL_METADATA = 'x-aion-verified-principal';

/** The `caller` of a principal that came with a client credential rather than an internal token. */
export const PUBLIC_CALLER = 'client';

export type MethodAccess = Permission | 'public';

/** What a public authenticator sees of a call: its metadata and the peer address (`ipv4:1.2.3.4:5`). */
export interface GrpcCaller {
  metadata: Metadata;
  peer: string;
}

/**
 * Authenticates a public call from its metadata (API key or JWT at the edge) instead of the
 * internal token; it may also refuse the call (rate limits). Errors are AionErrors.
 */
export type GrpcAuthenticator = (caller: GrpcCaller) => Promise<Principal>;

export interface GrpcAuthOptions {
  tokens: InternalTokens;
  /** Access rule per full method path (`/aion.v1.TaskOrchestrator/Submit`); unlisted methods are denied. */
  accessFor: (methodPath: string) => MethodAccess | undefined;
  /** The authenticator of a public method; methods without one need an internal token. */
  authenticatorFor?: (methodPath: string) => GrpcAuthenticator | undefined;
}

export function verifiedPrincipal(
  metadata: Metadata,
): (Principal & { caller: string }) | undefined {
  const raw = metadata.get(VERIFIED_PRINCIPAL_METADATA)[0];
  return typeof raw === 'string' ? (JSON.parse(raw) as Principal & { caller: string }) : undefined;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Public callers may not send the metadata services trust only from each other. */
function stripInternal(metadata: Metadata): void {
  for (const key of Object.keys(metadata.getMap()))
    if (key.startsWith('x-aion-')) metadata.remove(key);
}

/**
 * Server interceptor: verifies the internal token in `authorization` (or, for public methods,
 * the caller's own credential), enforces the method's permission (checked again here, after the
 * gateway), and hands the principal to the handler.
 */
export function grpcAuthInterceptor(options: GrpcAuthOptions): ServerInterceptor {
  return (methodDescriptor, call) => {
    const path = methodDescriptor.path;
    const intercepting: ServerInterceptingCall = new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            metadata.remove(VERIFIED_PRINCIPAL_METADATA);
            const authenticator = options.authenticatorFor?.(path);
            if (authenticator) {
              stripInternal(metadata);
              // A client's request id is kept when well-formed, like X-Request-ID over REST.
              if (!REQUEST_ID.test(String(metadata.get('x-request-id')[0] ?? '')))
                metadata.set('x-request-id', randomUUID());
            }
            const requestId = String(metadata.get('x-request-id')[0] ?? '');
            const reject = (error: AionError) =>
              intercepting.sendStatus(toGrpcStatus(error, requestId));
            const access = path.startsWith('/grpc.health.v1.') ? 'public' : options.accessFor(path);
            if (access === undefined)
              return reject(AionError.forbidden(`method ${path} is not exposed`));
            if (access === 'public') return nextMetadata(metadata);
            const verified = authenticator
              ? authenticator({ metadata, peer: intercepting.getPeer() }).then((p) => ({
                  ...p,
                  caller: PUBLIC_CALLER,
                }))
              : internalPrincipal(options.tokens, metadata);
            verified.then(
              (principal) => {
                if (!can(principal.roles, access))
                  return reject(AionError.forbidden(`this requires the ${access} permission`));
                metadata.set(VERIFIED_PRINCIPAL_METADATA, JSON.stringify(principal));
                nextMetadata(metadata);
              },
              (err: unknown) => reject(toAionError(err)),
            );
          },
        });
      },
    });
    return intercepting;
  };
}

function internalPrincipal(
  tokens: InternalTokens,
  metadata: Metadata,
): Promise<Principal & { caller: string }> {
  const token = bearerOf(metadata);
  return token
    ? tokens.verify(token)
    : Promise.reject(AionError.unauthenticated('internal token required'));
}

function bearerOf(metadata: Metadata): string | undefined {
  const header = String(metadata.get('authorization')[0] ?? '');
  return /^Bearer\s+(\S+)$/i.exec(header)?.[1];
}

/**
 * A public authenticator over the same credentials as REST: `x-api-key: <key>`, or
 * `authorization: Bearer <API key or JWT>` (a JWT has three dot-separated parts).
 * No credential is UNAUTHENTICATED.
 */
export function credentialAuthenticator(verifiers: {
  apiKeys: ApiKeyVerifier;
  jwt?: TokenVerifier | undefined;
}): (metadata: Metadata) => Promise<Principal> {
  return async (metadata) => {
    const apiKey = String(metadata.get('x-api-key')[0] ?? '').trim();
    if (apiKey) return verifiers.apiKeys.verify(apiKey);
    const bearer = bearerOf(metadata);
    if (!bearer) throw AionError.unauthenticated();
    if (bearer.split('.').length !== 3) return verifiers.apiKeys.verify(bearer);
    if (!verifiers.jwt)
      throw new AionError('auth.invalid_credentials', 'bearer tokens are not accepted here');
    return verifiers.jwt.verify(bearer);
  };
}
