import type { DescMethod } from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import {
  Server,
  ServerCredentials,
  type Metadata,
  type ServerInterceptor,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  status as GrpcStatus,
} from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import {
  grpcAuthInterceptor,
  verifiedPrincipal,
  type GrpcAuthenticator,
  type InternalTokens,
  type MethodAccess,
} from '@aion/auth';
import { AionError, errorEnvelopeInterceptor, toAionError, toGrpcStatus } from '@aion/errors';
import { runWithTenant } from '@aion/tenancy';
import { extractTraceContext, inSpan, type Logger, type ServiceMetrics } from '@aion/telemetry';
import { deserializer, serializer } from './codec';
import { runWithDeadline } from './deadline';
import { localMethod, registerLocal, unregisterLocal, type LocalMethod } from './in-process';
import type { CallContext, ServiceAccess, ServiceImpl } from './types';

export interface GrpcServerOptions {
  /** Verifies internal tokens; every non-public method needs one. */
  tokens: InternalTokens;
  logger?: Logger;
  metrics?: ServiceMetrics;
  /** Largest message accepted, in bytes (default 4 MiB). */
  maxMessageBytes?: number;
}

/**
 * A service that clients call directly (the gateway's public API) instead of other services:
 * callers authenticate with their own credential, and the service bounds its requests.
 */
export interface PublicServiceOptions {
  authenticate: GrpcAuthenticator;
  /** Largest request message, in bytes; larger ones are refused as validation.payload_too_large. */
  maxRequestBytes?: number;
  /** Calls of this service handled at once; more are refused UNAVAILABLE with retry-after. */
  maxInFlight?: number;
}

/** What the deserializer hands on instead of a request that exceeds the service's limit. */
class OversizedRequest {
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {}
}

/** Per public service: calls in flight against its bound. */
interface ServiceLimits {
  maxRequestBytes: number | undefined;
  maxInFlight: number | undefined;
  inFlight: number;
}

function drained(call: ServerWritableStream<unknown, unknown>, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      call.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    call.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * gRPC server for protobuf-es services: generated descriptors become grpc-js definitions,
 * handlers get a CallContext and run in the caller's tenant, trace and deadline; failures leave
 * as the error envelope; every call is counted (RED metrics); grpc.health.v1 is built in.
 */
export class GrpcServer {
  private readonly server: Server;
  private readonly health = new HealthImplementation({ '': 'NOT_SERVING' });
  private readonly access = new Map<string, MethodAccess>();
  private readonly authenticators = new Map<string, GrpcAuthenticator>();
  private credentials: ServerCredentials = ServerCredentials.createInsecure();
  private readonly serviceNames: string[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Per service: its methods as co-located clients in this process call them. */
  private readonly local = new Map<string, Map<string, LocalMethod>>();
  private port: number | undefined;

  constructor(private readonly options: GrpcServerOptions) {
    const interceptors: ServerInterceptor[] = [
      grpcAuthInterceptor({
        tokens: options.tokens,
        accessFor: (path) => this.access.get(path),
        authenticatorFor: (path) => this.authenticators.get(path),
      }),
      errorEnvelopeInterceptor,
    ];
    const maxBytes = options.maxMessageBytes ?? 4 * 1024 * 1024;
    this.server = new Server({
      interceptors,
      'grpc.max_receive_message_length': maxBytes,
      'grpc.max_send_message_length': maxBytes,
    });
    this.health.addToServer(this.server);
  }

  /** TLS (optionally mutual) instead of plaintext; before start. */
  useCredentials(credentials: ServerCredentials): this {
    if (this.port !== undefined)
      throw new Error('credentials must be set before the server starts');
    this.credentials = credentials;
    return this;
  }

  add<S extends GenServiceMethods>(
    service: GenService<S>,
    implementation: ServiceImpl<S>,
    access: ServiceAccess<S>,
    publicService?: PublicServiceOptions,
  ): this {
    const limits: ServiceLimits = {
      maxRequestBytes: publicService?.maxRequestBytes,
      maxInFlight: publicService?.maxInFlight,
      inFlight: 0,
    };
    const definition: Record<string, ServiceDefinition[string]> = {};
    const handlers: UntypedServiceImplementation = {};
    for (const [localName, method] of Object.entries(service.method) as [
      keyof S & string,
      DescMethod,
    ][]) {
      const path = `/${service.typeName}/${method.name}`;
      this.access.set(path, access[localName]);
      if (publicService) this.authenticators.set(path, publicService.authenticate);
      const parse = deserializer(method.input);
      const max = limits.maxRequestBytes;
      const streaming = method.methodKind === 'server_streaming';
      const clientStreaming = method.methodKind === 'client_streaming';
      if (method.methodKind === 'bidi_streaming')
        throw new Error(`${path}: bidirectional streaming RPCs are not supported`);
      definition[method.name] = {
        path,
        requestStream: clientStreaming,
        responseStream: streaming,
        requestSerialize: serializer(method.input),
        requestDeserialize:
          max === undefined
            ? parse
            : (bytes: Buffer) =>
                bytes.length > max ? new OversizedRequest(bytes.length, max) : parse(bytes),
        responseSerialize: serializer(method.output),
        responseDeserialize: deserializer(method.output),
        originalName: localName,
      };
      const impl = (implementation as Record<string, (req: unknown, ctx: CallContext) => unknown>)[
        localName
      ];
      if (typeof impl !== 'function') throw new Error(`${path}: no handler`);
      if (!publicService) {
        const methods = this.local.get(service.typeName) ?? new Map<string, LocalMethod>();
        this.local.set(service.typeName, methods);
        methods.set(
          localName,
          localMethod(
            {
              run: (ctx, fn) => this.scoped(path, ctx, ctx.metadata, fn),
              fail: (err, ctx) => this.fail(path, err, ctx),
              observe: (code, seconds) => this.options.metrics?.observeGrpc(path, code, seconds),
            },
            method,
            access[localName],
            impl,
          ),
        );
      }
      handlers[method.name] = clientStreaming
        ? (call: ServerReadableStream<unknown, unknown>, callback: sendUnaryData<unknown>) =>
            this.track(
              this.serveClientStream(
                path,
                limits,
                call,
                callback,
                impl as (r: AsyncIterable<unknown>, c: CallContext) => Promise<unknown>,
              ),
            )
        : streaming
          ? (call: ServerWritableStream<unknown, unknown>) =>
              this.track(
                this.serveStream(
                  path,
                  limits,
                  call,
                  impl as (r: unknown, c: CallContext) => AsyncIterable<unknown>,
                ),
              )
          : (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) =>
              this.track(
                this.serveUnary(
                  path,
                  limits,
                  call,
                  callback,
                  impl as (r: unknown, c: CallContext) => Promise<unknown>,
                ),
              );
    }
    this.server.addService(definition as ServiceDefinition, handlers);
    this.serviceNames.push(service.typeName);
    return this;
  }

  async start(host: string, port: number): Promise<number> {
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`${host}:${port}`, this.credentials, (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
    for (const [typeName, methods] of this.local) registerLocal(typeName, this.port, methods);
    return this.port;
  }

  setServing(status: ServingStatus): void {
    for (const name of ['', ...this.serviceNames]) this.health.setStatus(name, status);
  }

  /** Stops accepting calls, waits for in-flight ones up to the timeout, then forces the rest. */
  async shutdown(timeoutMs: number): Promise<void> {
    this.setServing('NOT_SERVING');
    if (this.port !== undefined)
      for (const typeName of this.local.keys()) unregisterLocal(typeName, this.port);
    const graceful = new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    const timer = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), timeoutMs).unref(),
    );
    if ((await Promise.race([graceful.then(() => 'done' as const), timer])) === 'timeout')
      this.server.forceShutdown();
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((r) => setTimeout(r, 100).unref()),
    ]);
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  private track(promise: Promise<unknown>): void {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
  }

  /** The call's context; `done` clears its deadline timer once the call has ended. */
  private contextOf(
    call:
      | ServerUnaryCall<unknown, unknown>
      | ServerWritableStream<unknown, unknown>
      | ServerReadableStream<unknown, unknown>,
  ): CallContext & { done(): void } {
    const controller = new AbortController();
    // Every kind of call emits it; the union's overloads just do not say so in common.
    (call as ServerUnaryCall<unknown, unknown>).on('cancelled', () =>
      controller.abort(
        new AionError('service.timeout', 'the call was cancelled or its deadline passed'),
      ),
    );
    const raw = call.getDeadline();
    const ms = raw instanceof Date ? raw.getTime() : raw;
    const deadline = Number.isFinite(ms) ? new Date(ms) : undefined;
    // Cleared when the call ends: one pending timer per finished call adds up at thousands/s.
    const timer = deadline
      ? setTimeout(
          () => controller.abort(new AionError('service.timeout', 'the deadline passed')),
          Math.max(0, deadline.getTime() - Date.now()),
        )
      : undefined;
    timer?.unref();
    return {
      done: () => clearTimeout(timer),
      principal: verifiedPrincipal(call.metadata),
      requestId: String(call.metadata.get('x-request-id')[0] ?? ''),
      signal: controller.signal,
      deadline,
      metadata: call.metadata,
    };
  }

  /** Runs `fn` in the caller's tenant and deadline, in a server span of the caller's trace. */
  private scoped<T>(path: string, ctx: CallContext, metadata: Metadata, fn: () => T): T {
    const traced = () =>
      inSpan(path, extractTraceContext(metadata.getMap() as Record<string, string>), () =>
        runWithDeadline(ctx.deadline, fn),
      );
    const p = ctx.principal;
    return p
      ? runWithTenant(
          {
            tenantId: p.tenantId,
            subject: p.subject,
            owner: p.owner,
            roles: p.roles,
            requestId: ctx.requestId,
          },
          traced,
        )
      : traced();
  }

  private fail(path: string, err: unknown, ctx: CallContext) {
    const error = toAionError(err);
    if (error.code === 'internal.error')
      this.options.logger?.error('gRPC handler failed', {
        method: path,
        request_id: ctx.requestId,
        error: error.cause instanceof Error ? error.cause.message : String(error.cause),
      });
    return toGrpcStatus(error, ctx.requestId);
  }

  private serveUnary(
    path: string,
    limits: ServiceLimits,
    call: ServerUnaryCall<unknown, unknown>,
    callback: sendUnaryData<unknown>,
    impl: (r: unknown, c: CallContext) => Promise<unknown>,
  ): Promise<void> {
    return this.answerOnce(path, limits, call, callback, call.request, (ctx) =>
      impl(call.request, ctx),
    );
  }

  /**
   * A client-streaming call: the handler reads the messages as they arrive (the stream pauses
   * while it does not, so HTTP/2 flow control holds the client back), each one held to the
   * service's size limit, and answers once.
   */
  private serveClientStream(
    path: string,
    limits: ServiceLimits,
    call: ServerReadableStream<unknown, unknown>,
    callback: sendUnaryData<unknown>,
    impl: (r: AsyncIterable<unknown>, c: CallContext) => Promise<unknown>,
  ): Promise<void> {
    async function* messages(): AsyncIterable<unknown> {
      for await (const message of call as AsyncIterable<unknown>) {
        if (message instanceof OversizedRequest) admit(limits, message);
        yield message;
      }
    }
    return this.answerOnce(path, limits, call, callback, undefined, (ctx) => impl(messages(), ctx));
  }

  /** One answer to a call (unary or client-streaming): admitted, scoped, counted and timed. */
  private async answerOnce(
    path: string,
    limits: ServiceLimits,
    call: ServerUnaryCall<unknown, unknown> | ServerReadableStream<unknown, unknown>,
    callback: sendUnaryData<unknown>,
    /** What the door checks for size: the request, or nothing yet (a stream's come later). */
    firstRequest: unknown,
    run: (ctx: CallContext) => Promise<unknown>,
  ): Promise<void> {
    const started = process.hrtime.bigint();
    const ctx = this.contextOf(call);
    let code: number = GrpcStatus.OK;
    let admitted = false;
    // Served calls only: one refused at the door (too large, at capacity) is not in flight.
    let counted = false;
    try {
      admitted = admit(limits, firstRequest);
      counted = true;
      this.options.metrics?.requestsInFlight.inc({ kind: 'grpc' });
      const response = await this.scoped(path, ctx, call.metadata, () => run(ctx));
      callback(null, response);
    } catch (err) {
      const status = this.fail(path, err, ctx);
      code = status.code;
      callback(status);
    } finally {
      ctx.done();
      if (admitted) limits.inFlight--;
      if (counted) this.options.metrics?.requestsInFlight.dec({ kind: 'grpc' });
      this.options.metrics?.observeGrpc(
        path,
        code,
        Number(process.hrtime.bigint() - started) / 1e9,
      );
    }
  }

  private async serveStream(
    path: string,
    limits: ServiceLimits,
    call: ServerWritableStream<unknown, unknown>,
    impl: (r: unknown, c: CallContext) => AsyncIterable<unknown>,
  ): Promise<void> {
    const started = process.hrtime.bigint();
    const ctx = this.contextOf(call);
    let code: number = GrpcStatus.OK;
    let admitted = false;
    // Served calls only: one refused at the door (too large, at capacity) is not in flight.
    let counted = false;
    try {
      admitted = admit(limits, call.request);
      counted = true;
      this.options.metrics?.requestsInFlight.inc({ kind: 'grpc' });
      await this.scoped(path, ctx, call.metadata, async () => {
        for await (const message of impl(call.request, ctx)) {
          if (ctx.signal.aborted) break;
          // Respect HTTP/2 flow control instead of buffering without bound.
          if (!call.write(message)) await drained(call, ctx.signal);
        }
      });
      call.end();
    } catch (err) {
      const status = this.fail(path, err, ctx);
      code = status.code;
      call.emit('error', status);
    } finally {
      ctx.done();
      if (admitted) limits.inFlight--;
      if (counted) this.options.metrics?.requestsInFlight.dec({ kind: 'grpc' });
      this.options.metrics?.observeGrpc(
        path,
        code,
        Number(process.hrtime.bigint() - started) / 1e9,
      );
    }
  }
}

/**
 * Checks a call against its service's bounds and counts it in flight; true when counted (the
 * caller then gives it back). Throws the error the caller gets instead.
 */
function admit(limits: ServiceLimits, request: unknown): boolean {
  if (request instanceof OversizedRequest)
    throw new AionError(
      'validation.payload_too_large',
      `the request is ${request.bytes} bytes; at most ${request.limit} are accepted`,
    );
  if (limits.maxInFlight === undefined) return false;
  if (limits.inFlight >= limits.maxInFlight)
    throw new AionError('service.unavailable', 'the service is at capacity; retry shortly', {
      retryAfterSeconds: 1,
    });
  limits.inFlight++;
  return true;
}
