import type { Metadata } from '@grpc/grpc-js';
import type { DescMethod, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type { GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import type { MethodAccess, Principal } from '@aion/auth';

/** What a handler knows about the call besides its request message. */
export interface CallContext {
  /** Verified from the internal token; undefined only for public methods. */
  principal: (Principal & { caller: string }) | undefined;
  requestId: string;
  /** Aborted when the client cancels or the deadline passes. */
  signal: AbortSignal;
  deadline: Date | undefined;
  metadata: Metadata;
}

type Method = Pick<DescMethod, 'input' | 'output' | 'methodKind'>;

export type UnaryImpl<M extends Method> = (
  request: MessageShape<M['input']>,
  context: CallContext,
) => Promise<MessageInitShape<M['output']>>;
export type ServerStreamImpl<M extends Method> = (
  request: MessageShape<M['input']>,
  context: CallContext,
) => AsyncIterable<MessageInitShape<M['output']>>;

/** A client-streaming handler: reads the caller's messages as they arrive, answers once. */
export type ClientStreamImpl<M extends Method> = (
  requests: AsyncIterable<MessageShape<M['input']>>,
  context: CallContext,
) => Promise<MessageInitShape<M['output']>>;

export type MethodImpl<M extends Method> = M['methodKind'] extends 'unary'
  ? UnaryImpl<M>
  : M['methodKind'] extends 'server_streaming'
    ? ServerStreamImpl<M>
    : M['methodKind'] extends 'client_streaming'
      ? ClientStreamImpl<M>
      : never;

/** A service's handlers, one per RPC, keyed by the generated local method names. */
export type ServiceImpl<S extends GenServiceMethods> = { [K in keyof S]: MethodImpl<S[K]> };

/** Access rule per RPC: the permission its caller needs, or public. */
export type ServiceAccess<S extends GenServiceMethods> = { [K in keyof S]: MethodAccess };

export interface CallOptions {
  /** Relative deadline; the call's overall deadline is the earlier of this and the caller's own. */
  deadlineMs?: number;
  signal?: AbortSignal;
}

export type UnaryClientMethod<M extends Method> = (
  request: MessageInitShape<M['input']>,
  options?: CallOptions,
) => Promise<MessageShape<M['output']>>;
export type StreamClientMethod<M extends Method> = (
  request: MessageInitShape<M['input']>,
  options?: CallOptions,
) => AsyncIterable<MessageShape<M['output']>>;

/** Sends the messages as the server takes them (flow control), resolves with its one answer. */
export type ClientStreamClientMethod<M extends Method> = (
  requests: AsyncIterable<MessageInitShape<M['input']>>,
  options?: CallOptions,
) => Promise<MessageShape<M['output']>>;

export type ServiceClient<S extends GenServiceMethods> = {
  [K in keyof S]: S[K]['methodKind'] extends 'unary'
    ? UnaryClientMethod<S[K]>
    : S[K]['methodKind'] extends 'server_streaming'
      ? StreamClientMethod<S[K]>
      : S[K]['methodKind'] extends 'client_streaming'
        ? ClientStreamClientMethod<S[K]>
        : never;
} & { close(): void };

/** The client type for a generated service descriptor: `ClientOf<typeof TaskOrchestrator>`. */
export type ClientOf<T> = T extends { method: infer M }
  ? ServiceClient<{ [K in keyof M]: M[K] extends Method ? Pick<M[K], keyof Method> : never }>
  : never;
