import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import * as z from 'zod/v4';
import { TaskOrchestrator } from '@aion/contracts';
import { can, type ApiKeyVerifier, type TokenVerifier, type Principal } from '@aion/auth';
import { AionError, toAionError } from '@aion/errors';
import type { ClientOf } from '@aion/grpc';
import { runWithTenant } from '@aion/tenancy';
import type { Logger } from '@aion/telemetry';
import { sseEventName, streamEventJson } from '../tasks/task-json';

export const WS_PATH = '/v1/ws';
/** Close code for a client that reads too slowly (its send buffer filled up). */
export const CLOSE_TOO_SLOW = 4008;

const ClientMessage = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('subscribe'),
    task_id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/),
    after_sequence: z.int().min(0).optional(),
  }),
  z.strictObject({ type: z.literal('unsubscribe'), task_id: z.string().max(128) }),
  z.strictObject({
    type: z.literal('ping'),
    id: z.union([z.string().max(64), z.number()]).optional(),
  }),
]);

export interface WsOptions {
  tasks: ClientOf<typeof TaskOrchestrator>;
  keys: ApiKeyVerifier;
  jwt?: TokenVerifier | undefined;
  logger: Logger;
  /** Bytes queued for a client before it is closed as too slow. */
  maxBufferedBytes: number;
  maxSubscriptions: number;
}

function credentialOf(
  req: IncomingMessage,
): { kind: 'api_key' | 'bearer'; value: string } | undefined {
  const apiKey = req.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey) return { kind: 'api_key', value: apiKey };
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers['authorization'] ?? '')?.[1];
  // Browsers cannot set headers on a WebSocket: accept access_token in the query as well.
  const token =
    bearer ??
    new URL(req.url ?? '/', 'http://localhost').searchParams.get('access_token') ??
    undefined;
  if (!token) return undefined;
  return { kind: token.split('.').length === 3 ? 'bearer' : 'api_key', value: token };
}

/** The part of a WebSocket the bounded sender needs. */
export interface SendableSocket {
  readonly readyState: number;
  readonly OPEN: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code: number, reason: string): void;
}

/**
 * Sends JSON while the socket's queue stays under `maxBufferedBytes`; past it the client is
 * closed with 4008 and nothing more is queued, so a slow reader cannot grow the gateway's memory.
 */
export function boundedSender(
  ws: SendableSocket,
  maxBufferedBytes: number,
  onTooSlow: () => void,
): (message: unknown) => boolean {
  let closed = false;
  return (message) => {
    if (closed || ws.readyState !== ws.OPEN) return false;
    if (ws.bufferedAmount > maxBufferedBytes) {
      closed = true;
      ws.close(CLOSE_TOO_SLOW, 'send buffer full: the client is not keeping up');
      onTooSlow();
      return false;
    }
    ws.send(JSON.stringify(message));
    return true;
  };
}

function refuse(socket: Duplex, status: number, error: AionError): void {
  const body = JSON.stringify(error.toEnvelope(randomUUID()));
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * GET /v1/ws: subscribe/unsubscribe to task streams over one WebSocket. Each connection has a
 * bounded send buffer; a client that cannot keep up is closed with code 4008 instead of letting
 * the gateway's memory grow.
 */
export function attachWebSocket(server: Server, options: WsOptions): { close(): void } {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== WS_PATH)
      return void socket.destroy();
    const credential = credentialOf(req);
    if (!credential) return refuse(socket, 401, AionError.unauthenticated());
    const verify =
      credential.kind === 'api_key'
        ? options.keys.verify(credential.value)
        : options.jwt
          ? options.jwt.verify(credential.value)
          : Promise.reject(
              new AionError('auth.invalid_credentials', 'bearer tokens are not accepted here'),
            );
    verify.then(
      (principal) => {
        if (!can(principal.roles, 'tasks:read'))
          return refuse(
            socket,
            403,
            AionError.forbidden('this requires the tasks:read permission'),
          );
        wss.handleUpgrade(req, socket, head, (ws) => serve(ws, principal, options));
      },
      (err: unknown) => refuse(socket, 401, toAionError(err)),
    );
  });
  return {
    close: () => {
      for (const client of wss.clients) client.close(1001, 'server is shutting down');
      wss.close();
    },
  };
}

function serve(ws: WebSocket, principal: Principal, options: WsOptions): void {
  const subscriptions = new Map<string, AbortController>();
  const connectionId = randomUUID();
  const context = {
    tenantId: principal.tenantId,
    subject: principal.subject,
    roles: principal.roles,
    requestId: connectionId,
  };
  let alive = true;
  const send = boundedSender(ws, options.maxBufferedBytes, () =>
    options.logger.warn('closed a WebSocket client that reads too slowly', {
      connection: connectionId,
    }),
  );
  const fail = (error: AionError, taskId?: string) =>
    send({
      type: 'error',
      ...(taskId ? { task_id: taskId } : {}),
      ...error.toEnvelope(connectionId),
    });
  const heartbeat = setInterval(() => {
    if (!alive) return ws.terminate();
    alive = false;
    ws.ping();
  }, 30_000);
  ws.on('pong', () => {
    alive = true;
  });

  const subscribe = (taskId: string, after: number) => {
    if (subscriptions.has(taskId)) return void send({ type: 'subscribed', task_id: taskId });
    if (subscriptions.size >= options.maxSubscriptions)
      return void fail(
        new AionError(
          'rate_limit.exceeded',
          `at most ${options.maxSubscriptions} subscriptions per connection`,
        ),
        taskId,
      );
    const controller = new AbortController();
    subscriptions.set(taskId, controller);
    void runWithTenant(context, async () => {
      try {
        await options.tasks.statusById({ taskId });
        send({ type: 'subscribed', task_id: taskId });
        for await (const event of options.tasks.stream(
          { taskId, afterSequence: BigInt(after) },
          { deadlineMs: 3_600_000, signal: controller.signal },
        )) {
          if (
            !send({
              type: 'event',
              task_id: taskId,
              id: Number(event.sequence),
              event: sseEventName(event.kind),
              data: streamEventJson(event),
            })
          ) {
            controller.abort();
            break;
          }
        }
      } catch (err) {
        if (!controller.signal.aborted) fail(toAionError(err), taskId);
      } finally {
        subscriptions.delete(taskId);
      }
    });
  };

  ws.on('message', (raw, isBinary) => {
    let message: z.output<typeof ClientMessage>;
    try {
      if (isBinary) throw new Error('binary');
      const parsed = ClientMessage.safeParse(JSON.parse(raw.toString()));
      if (!parsed.success) {
        return void fail(
          AionError.validation(
            'message is invalid',
            parsed.error.issues.map((i) => ({
              field: i.path.join('.') || '(root)',
              message: i.message,
            })),
          ),
        );
      }
      message = parsed.data;
    } catch {
      return void fail(new AionError('validation.malformed_json', 'messages must be JSON text'));
    }
    if (message.type === 'ping')
      return void send({ type: 'pong', ...(message.id !== undefined ? { id: message.id } : {}) });
    if (message.type === 'subscribe')
      return subscribe(message.task_id, message.after_sequence ?? 0);
    subscriptions.get(message.task_id)?.abort();
    subscriptions.delete(message.task_id);
    send({ type: 'unsubscribed', task_id: message.task_id });
  });
  ws.on('close', () => {
    clearInterval(heartbeat);
    for (const controller of subscriptions.values()) controller.abort();
    subscriptions.clear();
  });
  ws.on('error', () => ws.terminate());
  send({ type: 'welcome', connection_id: connectionId, tenant_id: principal.tenantId });
}
