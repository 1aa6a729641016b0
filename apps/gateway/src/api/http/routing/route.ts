import type { Request, Response } from 'express';
import type * as z from 'zod/v4';
import type { Permission, Principal } from '@aion/auth';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** One answer a route may give: its JSON body schema, or another media type it streams. */
export interface ResponseSpec {
  description: string;
  /** The JSON body (application/json unless `contentType` says otherwise). */
  schema?: z.ZodType;
  contentType?: string;
  /**
   * A text/event-stream answer (alone, or instead of the JSON when the request asked to stream):
   * the JSON each named event carries in its data, or `data` for events without a name, and the
   * literal data line that ends the stream, if any (OpenAI's [DONE]).
   */
  eventStream?: { events: Record<string, z.ZodType>; end?: string };
  headers?: Record<string, { description: string; schema: Record<string, unknown> }>;
}

/** Error statuses a route answers beyond those its shape implies (see `impliedErrors`). */
/**
 * Authenticated POST routes honour Idempotency-Key (422 on reuse; 409 while the first runs,
 * except on routes that submit a task, where a repeat finds the same task).
 */
export const honoursIdempotencyKey = (route: Route) =>
  route.method === 'post' && route.access !== 'public';

export type ErrorStatus = 401 | 403 | 404 | 409 | 422;

export interface RequestSpec {
  path?: z.ZodObject;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  body?: z.ZodType;
  /** A body is optional (an empty POST is its defaults). */
  bodyOptional?: boolean;
  /**
   * A raw body the handler streams from `req` itself (a file upload): never parsed as JSON or
   * buffered, documented as these media types of binary content. Excludes `body`.
   */
  stream?: { contentTypes: readonly string[] };
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteInput<Req extends RequestSpec> {
  path: Out<Req['path']>;
  query: Out<Req['query']>;
  headers: Out<Req['headers']>;
  body: Out<Req['body']>;
  /** Undefined only on public routes. */
  principal: Principal;
  req: Request;
  res: Response;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

/** What a handler answers: one of its declared successful statuses, with a body of that schema. */
export type Reply<Res extends Record<number, ResponseSpec>> =
  | {
      [S in keyof Res & number]: {
        status: S;
        body?: Res[S]['schema'] extends z.ZodType ? z.input<Res[S]['schema']> : undefined;
        headers?: Record<string, string>;
      };
    }[keyof Res & number]
  /** The handler wrote the response itself (event streams, JWKS as a media type of its own). */
  | 'sent';

/**
 * One REST operation, the single source of truth for the gateway's surface: the Express route
 * and the OpenAPI operation are both produced from it (mount.ts, openapi.ts).
 */
export interface Route<
  Req extends RequestSpec = RequestSpec,
  Res extends Record<number, ResponseSpec> = Record<number, ResponseSpec>,
> {
  method: Method;
  /** OpenAPI form: /v1/tasks/{id}. */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  /** The permission the principal needs, or 'public' for routes anyone may call. */
  access: Permission | 'public';
  request: Req;
  /** Successful answers; error answers are the envelope. */
  responses: Res;
  errors?: ErrorStatus[];
  /** OpenAPI links from a 2xx answer to other operations (used by stateful testing). */
  links?: Record<string, { operationId: string; parameters: Record<string, string> }>;
  /** Answers in OpenAI's error shape instead of the envelope. */
  openAiErrors?: boolean;
  /**
   * Submits a task with the id `idempotentTaskId` gives (Submit is idempotent by task id): a
   * repeat of its Idempotency-Key without a stored answer submits again instead of waiting.
   */
  submitsTask?: boolean;
  handle(input: RouteInput<Req>): Promise<Reply<NoInfer<Res>>>;
}

/** Declares a route with its handler typed by its own schemas. */
export function route<Req extends RequestSpec, Res extends Record<number, ResponseSpec>>(
  spec: Route<Req, Res>,
): Route {
  return spec as unknown as Route;
}
