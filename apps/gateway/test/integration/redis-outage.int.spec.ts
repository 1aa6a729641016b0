import path from 'node:path';
import { Redis } from 'ioredis';
import { migratePostgres } from '@aion/db';
import type { RunningService } from '@aion/runtime';
import {
  createTestDatabase,
  distributedEnv,
  eventually,
  onLoopback,
  startPrivateRedis,
  uniqueName,
  type PrivateRedis,
  type TestDatabase,
} from '@aion/testing';
import { loadGatewayConfig } from '../../src/config';
import { createGatewayService } from '../../src/gateway-service';

// What the gateway does while its Redis is away (docs/ARCHITECTURE.md, "Dependency outages"):
// rate limits degrade to per-replica buckets, logins fail closed with 503 and Retry-After, and
// both return to Redis once it is back. The Redis is this suite's own, so stopping it disturbs
// no other test.

const MIGRATIONS = path.resolve(__dirname, '..', '..', 'migrations');
const PER_IP = 5;

let db: TestDatabase;
let redis: PrivateRedis;
let probe: Redis;
let running: RunningService;
let base: string;
let ops: string;

/** One request from `ip` (the gateway trusts X-Forwarded-For from loopback). */
function fromIp(ip: string, method: 'GET' | 'POST', route: string, body?: unknown) {
  return fetch(`${base}${route}`, {
    method,
    headers: {
      'x-forwarded-for': ip,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Statuses of `n` reads of a route nobody serves from `ip` (404 unless rate limited). */
async function burst(ip: string, n: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++)
    statuses.push((await fromIp(ip, 'GET', '/api/v1/no-such-route')).status);
  return statuses;
}

const login = (ip: string, tenant = uniqueName('t')) =>
  fromIp(ip, 'POST', '/api/v1/auth/login', {
    tenant_id: tenant,
    username: 'mallory',
    password: 'a guess at the password',
  });

beforeAll(async () => {
  db = await createTestDatabase('gwredis');
  await migratePostgres(db.ownerUrl, { folder: MIGRATIONS, prefix: 'gw' }, { appRole: db.appRole });
  redis = await startPrivateRedis();
  probe = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
  probe.on('error', () => undefined);
  const service = createGatewayService(
    loadGatewayConfig({
      ...distributedEnv(db, 'redis-outage-internal-secret-0123456789abcdef'),
      REDIS_URL: redis.url,
      ...onLoopback('AION_GATEWAY_'),
      AION_GATEWAY_OPS_PORT: '0',
      AION_GATEWAY_ORCHESTRATOR_ADDRESS: '127.0.0.1:9',
      AION_GATEWAY_SOVEREIGN_ADDRESS: '127.0.0.1:9',
      AION_BOOTSTRAP_ADMIN_KEY: 'redis-outage-bootstrap-admin-key-0123456789',
      AION_BOOTSTRAP_TENANT: uniqueName('redis'),
      AION_GATEWAY_LOGIN_HASH_WORKERS: '1',
      AION_GATEWAY_RATE_LIMIT_IP_PER_MINUTE: String(PER_IP),
      LOG_LEVEL: 'error',
    }),
  );
  running = await service.start();
  base = `http://127.0.0.1:${running.httpPort}`;
  ops = `http://127.0.0.1:${running.opsPort}`;
}, 60_000);

afterAll(async () => {
  await running?.stop();
  probe?.disconnect();
  await redis?.close();
  await db?.drop();
});

describe('the gateway while Redis is stopped and restarted', () => {
  it('keeps rate limits per replica, refuses logins with 503 + Retry-After, and returns to Redis', async () => {
    // Redis up: the per-IP bucket lives in Redis.
    expect(await burst('203.0.113.1', PER_IP + 1)).toEqual([...Array(PER_IP).fill(404), 429]);
    expect(await probe.exists('aion:rl:ip:203.0.113.1')).toBe(1);
    expect((await login('203.0.113.10')).status).toBe(401);

    await redis.stop();

    // Rate limits degrade: no request fails because Redis is away, and the limit still holds
    // on this replica.
    const during = await burst('203.0.113.2', PER_IP + 1);
    expect(during).toEqual([...Array(PER_IP).fill(404), 429]);
    const limited = await fromIp('203.0.113.2', 'GET', '/api/v1/no-such-route');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);

    // Logins fail closed: guessing must not get easier while the attempt counter is away.
    const refused = await login('203.0.113.11');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('2');
    const body = (await refused.json()) as Record<string, unknown>;
    expect(body['error_code']).toBe('service.unavailable');
    expect(JSON.stringify(body)).not.toMatch(/Stream|writeable|127\.0\.0\.1/);

    // Still ready (it serves everything but logins); verbose health names Redis down.
    expect((await fetch(`${ops}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${ops}/healthz?verbose`)).json()).toMatchObject({
      ready: true,
      dependencies: { redis: { state: 'down', required: false } },
    });

    await redis.start();

    // Back on Redis: a new client's bucket appears there, and logins are answered again.
    await eventually(
      async () => {
        const status = (await fromIp('203.0.113.3', 'GET', '/api/v1/no-such-route')).status;
        expect(status).toBe(404);
        return (await probe.exists('aion:rl:ip:203.0.113.3')) === 1;
      },
      15_000,
      200,
    );
    const tenant = uniqueName('t');
    await eventually(async () => (await login('203.0.113.12', tenant)).status === 401, 15_000, 200);
    // The failed attempt is counted in Redis again, where every replica sees it.
    expect(await probe.get(`aion:login-failures:${tenant}:mallory`)).toBe('1');
  }, 90_000);
});
