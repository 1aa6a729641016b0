import { create, type DescMethod, type MessageInitShape } from '@bufbuild/protobuf';
import {
  Metadata,
  status as GrpcStatus,
  type ServiceError,
  type StatusObject,
} from '@grpc/grpc-js';
import { can, type MethodAccess, type Principal } from '@aion/auth';
import { AionError, fromGrpcError } from '@aion/errors';
import type { CallContext } from './types';

/** One method as a server in this process serves it. */
export interface LocalMethod {
  method: DescMethod;
  /** Runs a unary call with the network path's checks (see GrpcServer.localCall). */
  unary(request: unknown, call: LocalCall): Promise<unknown>;
  /** Runs a server-streaming call likewise. */
  stream(request: unknown, call: LocalCall): AsyncIterable<unknown>;
  /** Runs a client-streaming call likewise. */
  clientStream(requests: AsyncIterable<unknown>, call: LocalCall): Promise<unknown>;
}

/** What a co-located call carries instead of metadata: the caller and its principal. */
export interface LocalCall {
  principal: (Principal & { caller: string }) | undefined;
  requestId: string;
  deadline: Date | undefined;
  signal: AbortSignal | undefined;
  traceHeaders: Record<string, string>;
}

/**
 * Services started in this process, by service and port: `createGrpcClient` in the co-located
 * profile calls them directly when its address names a port served here. Keyed by port too, so
 * two servers of one service in one process (tests, replicas) are never confused.
 */
const served = new Map<string, Map<string, LocalMethod>>();

const keyOf = (typeName: string, port: number) => `${typeName}@${port}`;

export function registerLocal(typeName: string, port: number, methods: Map<string, LocalMethod>) {
  served.set(keyOf(typeName, port), methods);
}

export function unregisterLocal(typeName: string, port: number): void {
  served.delete(keyOf(typeName, port));
}

const LOOPBACK = /^(?:dns:\/\/\/)?(?:localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|\[::1?\]|::1?):(\d+)$/;

/**
 * Where a client of `typeName` at `address` finds the methods this process serves there, if it
 * ever does: the address is parsed once, each call is one map lookup (servers come and go).
 */
export function localMethodsAt(
  typeName: string,
  address: string,
): (() => Map<string, LocalMethod> | undefined) | undefined {
  const port = LOOPBACK.exec(address)?.[1];
  if (port === undefined) return undefined;
  const key = keyOf(typeName, Number(port));
  return () => served.get(key);
}

/** What a server lends its co-located methods: its scope, its error mapping, its metrics. */
export interface LocalHost {
  /** Runs `fn` in the call's tenant, trace and deadline (as a served call runs). */
  run<T>(ctx: CallContext, fn: () => T): T;
  /** The status a failed call answers with (logged as the network path logs it). */
  fail(err: unknown, ctx: CallContext): StatusObject;
  observe(code: number, seconds: number): void;
}

type Handler = (request: unknown, ctx: CallContext) => unknown;

/**
 * `work`, unless the call is cancelled or its deadline passes first: then the caller gets the
 * abort's error at once, as a network client would, whatever the handler still does.
 */
function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  work.catch(() => undefined);
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

/**
 * A method as co-located clients call it: the permission of the method checked against the
 * caller's principal, the request built as the server would decode it, the handler run in the
 * caller's tenant with its deadline and cancellation, the answer built as the client would decode
 * it, and a failure reaching the caller as the same AionError the network would have delivered.
 */
export function localMethod(
  host: LocalHost,
  method: DescMethod,
  access: MethodAccess,
  impl: Handler,
): LocalMethod {
  const context = (call: LocalCall): CallContext & { done(stop?: boolean): void } => {
    const controller = new AbortController();
    const abort = () =>
      controller.abort(
        new AionError('service.timeout', 'the call was cancelled or its deadline passed'),
      );
    const timer = call.deadline
      ? setTimeout(
          () => controller.abort(new AionError('service.timeout', 'the deadline passed')),
          Math.max(0, call.deadline.getTime() - Date.now()),
        )
      : undefined;
    timer?.unref();
    call.signal?.addEventListener('abort', abort, { once: true });
    const metadata = new Metadata();
    if (call.requestId) metadata.set('x-request-id', call.requestId);
    for (const [key, value] of Object.entries(call.traceHeaders)) metadata.set(key, value);
    return {
      principal: call.principal,
      requestId: call.requestId,
      signal: controller.signal,
      deadline: call.deadline,
      metadata,
      // `stop`: a stream whose reader went away, so whatever still runs for it stops. A unary
      // call's signal stays as the network leaves it: aborted only by cancel or deadline.
      done: (stop = false) => {
        clearTimeout(timer);
        call.signal?.removeEventListener('abort', abort);
        if (stop && !controller.signal.aborted) abort();
      },
    };
  };
  const authorize = (ctx: CallContext) => {
    if (access === 'public') return;
    if (!ctx.principal) throw AionError.unauthenticated('internal token required');
    if (!can(ctx.principal.roles, access))
      throw AionError.forbidden(`this requires the ${access} permission`);
  };
  const failed = (err: unknown, ctx: CallContext) => {
    const status = host.fail(err, ctx);
    return { status, error: fromGrpcError(status as ServiceError) };
  };
  return {
    method,
    async unary(request, call) {
      const started = process.hrtime.bigint();
      const ctx = context(call);
      let code: number = GrpcStatus.OK;
      try {
        authorize(ctx);
        const message = create(method.input, request as MessageInitShape<typeof method.input>);
        const response = await unlessAborted(
          host.run(ctx, () => impl(message, ctx) as Promise<unknown>),
          ctx.signal,
        );
        return create(method.output, response as MessageInitShape<typeof method.output>);
      } catch (err) {
        const { status, error } = failed(err, ctx);
        code = status.code;
        throw error;
      } finally {
        ctx.done();
        host.observe(code, Number(process.hrtime.bigint() - started) / 1e9);
      }
    },
    async clientStream(requests, call) {
      const started = process.hrtime.bigint();
      const ctx = context(call);
      let code: number = GrpcStatus.OK;
      // The caller's own failure to produce its messages reaches it unchanged, as over gRPC.
      const caller: { error?: unknown } = {};
      async function* messages(): AsyncIterable<unknown> {
        try {
          for await (const request of requests)
            yield create(method.input, request as MessageInitShape<typeof method.input>);
        } catch (err) {
          caller.error = err;
          throw err;
        }
      }
      try {
        authorize(ctx);
        const response = await unlessAborted(
          host.run(ctx, () => impl(messages(), ctx) as Promise<unknown>),
          ctx.signal,
        );
        return create(method.output, response as MessageInitShape<typeof method.output>);
      } catch (err) {
        if (caller.error !== undefined) throw caller.error;
        const { status, error } = failed(err, ctx);
        code = status.code;
        throw error;
      } finally {
        ctx.done(true);
        host.observe(code, Number(process.hrtime.bigint() - started) / 1e9);
      }
    },
    async *stream(request, call) {
      const started = process.hrtime.bigint();
      const ctx = context(call);
      let code: number = GrpcStatus.OK;
      let iterator: AsyncIterator<unknown> | undefined;
      // A handler that ran to its end leaves nothing to stop (an abort builds an error and its stack).
      let ended = false;
      try {
        authorize(ctx);
        const message = create(method.input, request as MessageInitShape<typeof method.input>);
        const source = (iterator = host.run(ctx, () =>
          (impl(message, ctx) as AsyncIterable<unknown>)[Symbol.asyncIterator](),
        ));
        // Each step runs in the call's scope: a generator's body runs in its caller's context.
        for (;;) {
          const next = await unlessAborted(
            host.run(ctx, () => source.next()),
            ctx.signal,
          );
          if (next.done) {
            ended = true;
            break;
          }
          yield create(method.output, next.value as MessageInitShape<typeof method.output>);
        }
      } catch (err) {
        // The caller stopped reading (its own signal): the stream just ends, as over gRPC.
        if (call.signal?.aborted) return;
        const { status, error } = failed(err, ctx);
        code = status.code;
        throw error;
      } finally {
        ctx.done(!ended);
        // Not awaited: a step still running finishes on its own once it sees the abort.
        if (!ended) void iterator?.return?.().catch(() => undefined);
        host.observe(code, Number(process.hrtime.bigint() - started) / 1e9);
      }
    },
  };
}
