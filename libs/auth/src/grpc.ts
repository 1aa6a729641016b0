import { ServerInterceptingCall, type Metadata, type ServerInterceptor } from '@grpc/grpc-js';
import { AionError, toAionError, toGrpcStatus } from '@aion/errors';
import type { InternalTokens } from './internal-token';
import type { Principal } from './principal';
import { can, type Permission } from './rbac';

/** Metadata key the interceptor writes the verified principal to (any incoming value is dropped). */
export const VERIFIED_PRINCIPAL_METADATA = 'x-aion-verified-principal';

export type MethodAccess = Permission | 'public';

export interface GrpcAuthOptions {
  tokens: InternalTokens;
  /** Access rule per full method path (`/aion.v1.TaskOrchestrator/Submit`); unlisted methods are denied. */
  accessFor: (methodPath: string) => MethodAccess | undefined;
}

export function verifiedPrincipal(
  metadata: Metadata,
): (Principal & { caller: string }) | undefined {
  const raw = metadata.get(VERIFIED_PRINCIPAL_METADATA)[0];
  return typeof raw === 'string' ? (JSON.parse(raw) as Principal & { caller: string }) : undefined;
}

/**
 * Server interceptor: verifies the internal token in `authorization`, enforces the method's
 * permission (checked again here, after the gateway), and hands the principal to the handler.
 */
export function grpcAuthInterceptor(options: GrpcAuthOptions): ServerInterceptor {
  return (methodDescriptor, call) => {
    const intercepting: ServerInterceptingCall = new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            metadata.remove(VERIFIED_PRINCIPAL_METADATA);
            const requestId = String(metadata.get('x-request-id')[0] ?? '');
            const reject = (error: AionError) =>
              intercepting.sendStatus(toGrpcStatus(error, requestId));
            const access = methodDescriptor.path.startsWith('/grpc.health.v1.')
              ? 'public'
              : options.accessFor(methodDescriptor.path);
            if (access === undefined)
              return reject(AionError.forbidden(`method ${methodDescriptor.path} is not exposed`));
            if (access === 'public') return nextMetadata(metadata);
            const header = String(metadata.get('authorization')[0] ?? '');
            const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
            if (!token) return reject(AionError.unauthenticated('internal token required'));
            options.tokens.verify(token).then(
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
