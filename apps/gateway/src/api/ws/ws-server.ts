import type { IncomingMessage, Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { WebSocketServer } from 'ws';
import { can, type ApiKeyVerifier, type Principal, type TokenVerifier } from '@aion/auth';
import { AionError, retryAfterFor, toAionError } from '@aion/errors';
import type { BucketLimit } from '@aion/resilience';
import type { Capacity } from '../capacity';
import { clientIp } from '../client-ip';
import {
  CLOSE_CREDENTIAL,
  CLOSE_TOO_OLD,
  WsConnection,
  type ConnectionOptions,
} from './ws-connection';

export const WS_PATH = '/v1/ws';
export { CLOSE_TOO_SLOW } from './bounded-sender';
export { CLOSE_CREDENTIAL, CLOSE_TOO_OLD } from './ws-connection';

export interface WsOptions extends ConnectionOptions {
  keys: ApiKeyVerifier;
  /** Bearer JWTs: this gateway's own access tokens (password logins) or an identity provider's. */
  bearer: TokenVerifier;
  perIp: BucketLimit;
  /** Open sockets, shared fairly per tenant and per key with the SSE streams. */
  streams: Capacity;
  /** How often an open socket re-checks its credential. */
  recheckMs: number;
  /** Longest a socket stays open. */
  maxAgeMs: number;
}

type Credential = { kind: 'api_key' | 'bearer'; value: string };

function credentialOf(req: IncomingMessage): Credential | undefined {
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

/** When a bearer token stops being valid (its `exp`), if it says. */
function expiryOf(credential: Credential): number | undefined {
  if (credential.kind !== 'bearer') return undefined;
  try {
    const exp = decodeJwt(credential.value).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

function refuse(socket: Duplex, error: AionError): void {
  const status = error.httpStatus;
  const retryAfter = retryAfterFor(error);
  const body = JSON.stringify(error.toEnvelope(randomUUID()));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: application/json\r\n` +
      (retryAfter !== undefined ? `retry-after: ${retryAfter}\r\n` : '') +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

async function takeToken(options: WsOptions, key: string, limit: BucketLimit): Promise<void> {
  const result = await options.buckets.take(key, limit);
  if (result.allowed) return;
  const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
  throw new AionError('rate_limit.exceeded', `rate limit exceeded; retry in ${seconds} s`, {
    retryAfterSeconds: seconds,
  });
}

/**
 * GET /v1/ws: subscribe/unsubscribe to task streams over one WebSocket. An upgrade pays the
 * per-IP and per-key rate limits and takes a stream slot (fair per tenant and key); the
 * credential is checked again on every subscribe, every `recheckMs`, and at once when a
 * revocation event names it (`revoked`); a socket lives at most `maxAgeMs` or until its JWT
 * expires. Each connection has a bounded send buffer (4008 for a client that cannot keep up).
 */
export function attachWebSocket(
  server: Server,
  options: WsOptions,
): { close(): void; revoked(tenantId: string): Promise<void>; open(): number } {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const connections = new Set<WsConnection>();

  const verify = (credential: Credential): Promise<Principal> =>
    credential.kind === 'api_key'
      ? options.keys.verify(credential.value)
      : options.bearer.verify(credential.value);

  const admit = async (req: IncomingMessage, credential: Credential) => {
    await takeToken(options, `ip:${clientIp(req.socket.remoteAddress)}`, options.perIp);
    const principal = await verify(credential);
    if (!can(principal.roles, 'tasks:read'))
      throw AionError.forbidden('this requires the tasks:read permission');
    await takeToken(
      options,
      `principal:${principal.tenantId}:${principal.keyId ?? principal.subject}`,
      options.perKey,
    );
    return { principal, release: options.streams.take(principal, 'streams') };
  };

  server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== WS_PATH)
      return void socket.destroy();
    const credential = credentialOf(req);
    if (!credential) return refuse(socket, AionError.unauthenticated());
    admit(req, credential).then(
      ({ principal, release }) =>
        wss.handleUpgrade(req, socket, head, (ws) => {
          const connection = new WsConnection(ws, principal, () => verify(credential), options);
          connections.add(connection);
          const recheck = setInterval(() => void connection.recheck(), options.recheckMs);
          const expiry = expiryOf(credential);
          const maxAge = Math.min(options.maxAgeMs, (expiry ?? Infinity) - Date.now());
          const tooOld = setTimeout(
            () =>
              expiry !== undefined && expiry - Date.now() <= 0
                ? connection.close(CLOSE_CREDENTIAL, 'the access token expired')
                : connection.close(CLOSE_TOO_OLD, 'connection too old; reconnect'),
            Math.max(0, maxAge),
          );
          ws.on('close', () => {
            clearInterval(recheck);
            clearTimeout(tooOld);
            connections.delete(connection);
            connection.closed();
            release();
          });
        }),
      (err: unknown) => refuse(socket, toAionError(err)),
    );
  });
  return {
    close: () => {
      for (const client of wss.clients) client.close(1001, 'server is shutting down');
      wss.close();
    },
    /** A credential of this tenant was revoked: every socket of the tenant checks its own now. */
    revoked: async (tenantId) => {
      await Promise.all(
        [...connections].filter((c) => c.tenantId === tenantId).map((c) => c.recheck()),
      );
    },
    open: () => connections.size,
  };
}
