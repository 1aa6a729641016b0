import type { DescMethod } from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import {
  ChannelCredentials,
  Client,
  credentials,
  Metadata,
  status as GrpcStatus,
  type ClientReadableStream,
  type ClientWritableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { isRole, type InternalTokens, type Principal } from '@aion/auth';
import { AionError, fromGrpcError } from '@aion/errors';
import { currentTenant } from '@aion/tenancy';
import { injectTraceHeaders, type ServiceMetrics } from '@aion/telemetry';
import { deserializer, serializer } from './codec';
import { localMethodsAt, type LocalCall } from './in-process';
import { effectiveDeadline } from './deadline';
import type { CallOptions, ServiceClient } from './types';

export interface GrpcClientOptions {
  /** Issues the internal token that carries the current tenant and principal. */
  tokens: InternalTokens;
  /** Deadline when the caller gives none and none is inherited (default 10 s). */
  defaultDeadlineMs?: number;
  /** Identity for calls made outside any request (background jobs). */
  servicePrincipal?: Principal;
  /** TLS to the server (mutualTlsCredentials().client); plaintext when absent. */
  credentials?: ChannelCredentials;
  /**
   * The co-located profile: when this process itself serves the service at `address`, calls go
   * to it in-process (see in-process.ts); otherwise, or until it serves, over gRPC.
   */
  inProcess?: boolean;
  /** Counts each call by method and transport (aion_grpc_client_calls_total). */
  metrics?: Pick<ServiceMetrics, 'observeGrpcClient'>;
}

/**
 * Outgoing metadata for a call: internal token for the current principal, request id and
 * W3C trace context. Built per call because the token is short-lived and per tenant.
 */
async function outgoingMetadata(options: GrpcClientOptions): Promise<Metadata> {
  const metadata = new Metadata();
  const principal = callerPrincipal(options);
  if (principal) metadata.set('authorization', `Bearer ${await options.tokens.issue(principal)}`);
  const requestId = currentTenant()?.requestId;
  if (requestId) metadata.set('x-request-id', requestId);
  for (const [key, value] of Object.entries(injectTraceHeaders())) metadata.set(key, value);
  return metadata;
}

/** Who a call is made for: the request's principal, else the service's own (background work). */
function callerPrincipal(options: GrpcClientOptions): Principal | undefined {
  const tenant = currentTenant();
  return tenant
    ? {
        kind: 'service',
        tenantId: tenant.tenantId,
        subject: tenant.subject,
        owner: tenant.owner,
        roles: tenant.roles.filter(isRole),
      }
    : options.servicePrincipal;
}

/** A co-located call: what the internal token would have told the server, as it would verify it. */
function localCall(
  options: GrpcClientOptions,
  deadline: Date | undefined,
  signal?: AbortSignal,
): LocalCall {
  const principal = callerPrincipal(options);
  return {
    principal: principal && { ...principal, caller: options.tokens.service },
    requestId: currentTenant()?.requestId ?? '',
    deadline,
    signal,
    traceHeaders: injectTraceHeaders(),
  };
}

const ROUND_ROBIN = JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] });

/**
 * Reconnect backoff towards a peer that went away: grpc-js starts at 1 s and grows ×1.6 up to
 * 120 s, so a peer back after a few seconds kept being refused for seconds more (a restarted
 * orchestrator: ~3.4 s of 503 at the gateway). 100 ms growing to 1 s at most finds it within a
 * second, at the price of one connect attempt a second to a peer that stays down.
 */
export const RECONNECT_BACKOFF = { initialMs: 100, maxMs: 1000 };

/**
 * A typed client for a protobuf-es service. Every call has a deadline (the earlier of its own
 * and the one inherited from the call being served), carries tenant, auth and trace metadata,
 * and fails with the AionError the server raised.
 */
export function createGrpcClient<S extends GenServiceMethods>(
  service: GenService<S>,
  address: string,
  options: GrpcClientOptions,
): ServiceClient<S> {
  const client = new Client(address, options.credentials ?? credentials.createInsecure(), {
    'grpc.keepalive_time_ms': 30_000,
    'grpc.initial_reconnect_backoff_ms': RECONNECT_BACKOFF.initialMs,
    'grpc.max_reconnect_backoff_ms': RECONNECT_BACKOFF.maxMs,
    // One connection per address the target resolves to, calls spread over them: a gateway in
    // front of several orchestrator replicas (dns:/// on a headless Service) uses them all
    // instead of pinning every call to the first one it reached.
    'grpc.service_config': ROUND_ROBIN,
  });
  const result: Record<string, unknown> = { close: () => client.close() };
  // The co-located profile: the address, parsed once, names a port this process may serve.
  const servedHere = options.inProcess ? localMethodsAt(service.typeName, address) : undefined;
  for (const [localName, method] of Object.entries(service.method) as [string, DescMethod][]) {
    const path = `/${service.typeName}/${method.name}`;
    const serialize = serializer(method.input);
    const deserialize = deserializer(method.output);
    const deadlineOf = (callOptions?: CallOptions) =>
      effectiveDeadline(callOptions?.deadlineMs ?? options.defaultDeadlineMs ?? 10_000);
    const local = () => servedHere?.()?.get(localName);
    if (method.methodKind === 'unary') {
      result[localName] = async (request: unknown, callOptions?: CallOptions) => {
        const served = local();
        options.metrics?.observeGrpcClient(path, served ? 'in_process' : 'network');
        if (served)
          return served.unary(
            request,
            localCall(options, deadlineOf(callOptions), callOptions?.signal),
          );
        const metadata = await outgoingMetadata(options);
        const deadline = deadlineOf(callOptions);
        return new Promise((resolve, reject) => {
          const call = client.makeUnaryRequest(
            path,
            serialize,
            deserialize,
            request,
            metadata,
            deadline ? { deadline } : {},
            (err: ServiceError | null, value?: unknown) =>
              err ? reject(fromGrpcError(err)) : resolve(value),
          );
          callOptions?.signal?.addEventListener('abort', () => call.cancel(), { once: true });
        });
      };
    } else if (method.methodKind === 'server_streaming') {
      result[localName] = (request: unknown, callOptions?: CallOptions) => {
        const served = local();
        options.metrics?.observeGrpcClient(path, served ? 'in_process' : 'network');
        if (served)
          return served.stream(
            request,
            localCall(options, deadlineOf(callOptions), callOptions?.signal),
          );
        return streamCall(
          client,
          path,
          serialize,
          deserialize,
          request,
          options,
          deadlineOf(callOptions),
          callOptions?.signal,
        );
      };
    } else if (method.methodKind === 'client_streaming') {
      result[localName] = (requests: AsyncIterable<unknown>, callOptions?: CallOptions) => {
        const served = local();
        options.metrics?.observeGrpcClient(path, served ? 'in_process' : 'network');
        if (served)
          return served.clientStream(
            requests,
            localCall(options, deadlineOf(callOptions), callOptions?.signal),
          );
        return clientStreamCall(
          client,
          path,
          { serialize, deserialize },
          requests,
          options,
          deadlineOf(callOptions),
          callOptions?.signal,
        );
      };
    }
  }
  return result as ServiceClient<S>;
}

/**
 * A client-streaming call: writes the messages as the server takes them (waits on `drain`),
 * stops writing once the server answered (an early refusal: too large, not allowed), and
 * cancels the call when reading the messages fails, so the server never keeps half of them.
 */
async function clientStreamCall(
  client: Client,
  path: string,
  codec: { serialize: (m: unknown) => Buffer; deserialize: (b: Buffer) => unknown },
  requests: AsyncIterable<unknown>,
  options: GrpcClientOptions,
  deadline: Date | undefined,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  const metadata = await outgoingMetadata(options);
  let answered = false;
  let call: ClientWritableStream<unknown> | undefined;
  const answer = new Promise<unknown>((resolve, reject) => {
    call = client.makeClientStreamRequest(
      path,
      codec.serialize,
      codec.deserialize,
      metadata,
      deadline ? { deadline } : {},
      (err: ServiceError | null, value?: unknown) => {
        answered = true;
        if (err) reject(fromGrpcError(err));
        else resolve(value);
      },
    );
  });
  const stream = call!;
  const settled = answer.then(
    () => undefined,
    () => undefined,
  );
  const onAbort = () => stream.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const message of requests) {
      if (answered) break;
      if (!stream.write(message))
        await Promise.race([
          new Promise<void>((resolve) => stream.once('drain', () => resolve())),
          settled,
        ]);
    }
    if (!answered) stream.end();
  } catch (err) {
    stream.cancel();
    await settled;
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return answer;
}

async function* streamCall(
  client: Client,
  path: string,
  serialize: (m: unknown) => Buffer,
  deserialize: (b: Buffer) => unknown,
  request: unknown,
  options: GrpcClientOptions,
  deadline: Date | undefined,
  signal: AbortSignal | undefined,
): AsyncIterable<unknown> {
  const metadata = await outgoingMetadata(options);
  const call: ClientReadableStream<unknown> = client.makeServerStreamRequest(
    path,
    serialize,
    deserialize,
    request,
    metadata,
    deadline ? { deadline } : {},
  );
  const onAbort = () => call.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const message of call) yield message;
  } catch (err) {
    const serviceError = err as ServiceError;
    if (serviceError.code === GrpcStatus.CANCELLED && signal?.aborted) return;
    throw typeof serviceError.code === 'number'
      ? fromGrpcError(serviceError)
      : AionError.internal(err);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    call.cancel();
  }
}
