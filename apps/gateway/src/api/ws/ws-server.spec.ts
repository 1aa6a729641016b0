import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { WebSocket } from 'ws';
import { StreamEventKind, type PipelineService, type TaskOrchestrator } from '@aion/contracts';
import { ApiKeyService, JwtVerifier, MemoryApiKeyRepository } from '@aion/auth';
import type { ClientOf } from '@aion/grpc';
import { MemoryTokenBucketStore } from '@aion/resilience';
import { createLogger } from '@aion/telemetry';
import { Capacity } from '../capacity';
import { attachWebSocket, CLOSE_CREDENTIAL, CLOSE_TOO_OLD, type WsOptions } from './ws-server';

const SECRET = 'a-test-secret-of-at-least-32-characters!!';
const ISSUER = 'https://id.example';

/**
 * The orchestrator's task client, standing in for the orchestrator process in this unit test of
 * the socket layer (e2e/test/integration/gateway.int.spec.ts runs sockets against the real one):
 * every task exists and streams a token every 20 ms until the subscription is dropped.
 */
function tasksClient(): ClientOf<typeof TaskOrchestrator> {
  return {
    statusById: async () => ({}),
    stream: async function* (_req: unknown, options: { signal?: AbortSignal }) {
      for (let sequence = 1n; !options.signal?.aborted; sequence++) {
        yield { sequence, kind: StreamEventKind.TOKEN, token: 't' };
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  } as unknown as ClientOf<typeof TaskOrchestrator>;
}

/** Pipeline jobs are not what these tests subscribe to (e2e pipeline-rest runs subscribe_job). */
const pipelineClient = () => ({}) as unknown as ClientOf<typeof PipelineService>;

interface Client {
  ws: WebSocket;
  messages: Record<string, unknown>[];
  closed: Promise<{ code: number; reason: string }>;
}

describe('attachWebSocket', () => {
  let server: Server;
  let url: string;
  let keys: ApiKeyService;
  let sockets: ReturnType<typeof attachWebSocket>;
  let options: WsOptions;

  async function start(overrides: Partial<WsOptions> = {}) {
    keys = new ApiKeyService(new MemoryApiKeyRepository());
    options = {
      tasks: tasksClient(),
      pipeline: pipelineClient(),
      keys,
      bearer: new JwtVerifier({ issuer: ISSUER, audience: 'aion', hs256Secret: SECRET }),
      logger: createLogger({ service: 'ws-spec', level: 'error' }),
      maxBufferedBytes: 1 << 20,
      maxSubscriptions: 10,
      buckets: new MemoryTokenBucketStore(),
      perKey: { capacity: 100, refillPerSecond: 1 },
      perIp: { capacity: 100, refillPerSecond: 1 },
      streams: new Capacity({ total: 100, perTenant: 50, perKey: 10 }),
      recheckMs: 60_000,
      maxAgeMs: 60_000,
      ...overrides,
    };
    server = createServer((_req, res) => res.end());
    sockets = attachWebSocket(server, options);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/ws`;
  }
  afterEach(async () => {
    sockets.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const newKey = async (tenantId = 't1', role: 'developer' | 'observer' = 'developer') =>
    keys.create({ tenantId, role, name: 'k', owner: 'user:someone' });

  function connect(headers: Record<string, string>): Promise<Client | { status: number }> {
    return new Promise((resolve) => {
      const ws = new WebSocket(url, { headers });
      const messages: Record<string, unknown>[] = [];
      const closed = new Promise<{ code: number; reason: string }>((done) =>
        ws.on('close', (code, reason) => done({ code, reason: reason.toString() })),
      );
      ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
      ws.once('open', () => resolve({ ws, messages, closed }));
      ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0 }));
    });
  }
  const opened = (client: Client | { status: number }): Client => {
    if ('status' in client) throw new Error(`refused with ${client.status}`);
    return client;
  };
  const until = async (check: () => boolean) => {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(check()).toBe(true);
  };

  it('closes a socket whose key is revoked, at the revocation event and at the next subscribe', async () => {
    await start();
    const { key, record } = await newKey();
    const a = opened(await connect({ authorization: `Bearer ${key}` }));
    const b = opened(await connect({ 'x-api-key': key }));
    a.ws.send(JSON.stringify({ type: 'subscribe', task_id: 'task-1' }));
    await until(() => a.messages.some((m) => m['type'] === 'event'));
    await keys.revoke('t1', record.id);
    // The event path: every socket of the tenant checks its credential at once.
    await sockets.revoked('t1');
    expect((await a.closed).code).toBe(CLOSE_CREDENTIAL);
    expect((await b.closed).code).toBe(CLOSE_CREDENTIAL);
    await until(() => sockets.open() === 0);
    // Without the event: a subscribe checks the credential first.
    const { key: second, record: secondRecord } = await newKey();
    const c = opened(await connect({ 'x-api-key': second }));
    await keys.revoke('t1', secondRecord.id);
    c.ws.send(JSON.stringify({ type: 'subscribe', task_id: 'task-2' }));
    expect(await c.closed).toEqual({ code: CLOSE_CREDENTIAL, reason: 'API key has been revoked' });
    expect(c.messages.some((m) => m['type'] === 'subscribed')).toBe(false);
  });

  it("re-checks credentials periodically and caps a connection's age", async () => {
    await start({ recheckMs: 50, maxAgeMs: 400 });
    const { key, record } = await newKey();
    const revoked = opened(await connect({ 'x-api-key': key }));
    await keys.revoke('t1', record.id);
    expect((await revoked.closed).code).toBe(CLOSE_CREDENTIAL);
    const { key: other } = await newKey();
    const old = opened(await connect({ 'x-api-key': other }));
    expect((await old.closed).code).toBe(CLOSE_TOO_OLD);
  });

  it('accepts bearer access tokens and closes the socket when the token expires', async () => {
    await start();
    const token = await new SignJWT({ tenant_id: 't1', roles: ['developer'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setAudience('aion')
      .setSubject('user-1')
      .setExpirationTime(Math.floor(Date.now() / 1000) + 2)
      .sign(new TextEncoder().encode(SECRET));
    const client = opened(await connect({ authorization: `Bearer ${token}` }));
    expect(client.messages[0]).toMatchObject({ type: 'welcome', tenant_id: 't1' });
    expect(await client.closed).toEqual({
      code: CLOSE_CREDENTIAL,
      reason: 'the access token expired',
    });
  }, 10_000);

  it('rate-limits upgrades per IP, before looking at the credential', async () => {
    await start({ perIp: { capacity: 3, refillPerSecond: 0.001 } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const client = await connect({ 'x-api-key': 'aion_bad_key' });
      statuses.push('status' in client ? client.status : 101);
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
  });

  it('caps the sockets one key (and one tenant) may hold, and frees a slot when one closes', async () => {
    await start({ streams: new Capacity({ total: 100, perTenant: 3, perKey: 2 }) });
    const { key } = await newKey();
    const first = opened(await connect({ 'x-api-key': key }));
    opened(await connect({ 'x-api-key': key }));
    expect(await connect({ 'x-api-key': key })).toEqual({ status: 429 });
    const { key: sameTenant } = await newKey();
    opened(await connect({ 'x-api-key': sameTenant }));
    expect(await connect({ 'x-api-key': sameTenant })).toEqual({ status: 429 });
    const { key: otherTenant } = await newKey('t2');
    opened(await connect({ 'x-api-key': otherTenant }));
    first.ws.close();
    await first.closed;
    await until(() => options.streams.inUse('t1') === 2);
    opened(await connect({ 'x-api-key': key }));
  });

  it("charges every subscribe to the key's rate limit", async () => {
    await start({ perKey: { capacity: 3, refillPerSecond: 0.001 } });
    const { key } = await newKey();
    // The upgrade itself takes one token.
    const client = opened(await connect({ 'x-api-key': key }));
    for (const id of ['a', 'b', 'c'])
      client.ws.send(JSON.stringify({ type: 'subscribe', task_id: id }));
    await until(() => client.messages.filter((m) => m['type'] !== 'event').length >= 4);
    const answers = client.messages.filter((m) => m['type'] !== 'event' && m['type'] !== 'welcome');
    expect(answers.filter((m) => m['type'] === 'subscribed')).toHaveLength(2);
    expect(answers.find((m) => m['type'] === 'error')).toMatchObject({
      error_code: 'rate_limit.exceeded',
    });
  });

  it('refuses a credential without tasks:read', async () => {
    await start();
    const denied = await keys.create({
      tenantId: 't1',
      role: 'observer',
      name: 'o',
      owner: 'user:someone',
    });
    // Observers read tasks; a made-up role set without it is what a JWT could carry.
    const token = await new SignJWT({ tenant_id: 't1', roles: ['anonymous'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setAudience('aion')
      .setSubject('user-2')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));
    expect(await connect({ authorization: `Bearer ${token}` })).toEqual({ status: 403 });
    opened(await connect({ 'x-api-key': denied.key }));
  });
});
