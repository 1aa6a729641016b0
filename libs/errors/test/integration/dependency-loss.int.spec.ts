import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { Pool, type PoolClient } from 'pg';
import {
  startLocalPostgres,
  startPrivateRedis,
  stopLocalPostgres,
  type LocalPostgres,
  type PrivateRedis,
} from '@aion/testing';
import { isDependencyUnavailable, retryAfterFor, toAionError } from '../../src';

// The errors the real drivers raise when their server goes away, on servers of this suite's own
// (stopping the shared ones would disturb every other test): each must be a 503 with
// Retry-After, while errors the server answered with stay what they are.

/** What a rejected promise rejected with. */
const failureOf = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: unknown) => err,
  );

describe('PostgreSQL stopped under a pool', () => {
  let stackDir: string;
  let pg: LocalPostgres;
  let pool: Pool;

  beforeAll(async () => {
    stackDir = mkdtempSync(path.join(tmpdir(), 'aion-deploss-'));
    pg = await startLocalPostgres(stackDir);
    pool = new Pool({ connectionString: pg.adminUrl, max: 2, connectionTimeoutMillis: 3000 });
    // pg-pool emits an idle client's connection loss here; without a listener it would crash.
    pool.on('error', () => undefined);
  }, 90_000);

  afterAll(async () => {
    await pool?.end().catch(() => undefined);
    if (pg) stopLocalPostgres(pg);
    rmSync(stackDir, { recursive: true, force: true });
  });

  it('keeps errors PostgreSQL answers with as they are', async () => {
    for (const sql of ['select 1/0', 'selec 1', 'select * from no_such_table']) {
      const err = await failureOf(pool.query(sql));
      expect(isDependencyUnavailable(err)).toBe(false);
      expect(toAionError(err).code).toBe('internal.error');
    }
  });

  it('answers a connection lost mid-transaction and a refused connect with 503 + Retry-After', async () => {
    const client: PoolClient = await pool.connect();
    const lost: unknown[] = [];
    client.on('error', (err) => lost.push(err));
    await client.query('begin');
    stopLocalPostgres(pg);
    const midTransaction = await failureOf(client.query('select 1'));
    client.release(true);
    expect(isDependencyUnavailable(midTransaction)).toBe(true);
    for (const err of lost) expect(isDependencyUnavailable(err)).toBe(true);

    const refused = await failureOf(pool.query('select 1'));
    expect(isDependencyUnavailable(refused)).toBe(true);
    const error = toAionError(refused);
    expect(error.code).toBe('service.unavailable');
    expect(error.httpStatus).toBe(503);
    expect(retryAfterFor(error)).toBe(2);

    // Back on the same port: the same pool serves again.
    pg = await startLocalPostgres(stackDir, { port: pg.port });
    expect((await pool.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
  }, 90_000);
});

describe('Redis stopped under a client configured like the services', () => {
  let redis: PrivateRedis;
  let client: Redis;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    client = new Redis(redis.url, {
      maxRetriesPerRequest: 2,
      enableOfflineQueue: false,
      lazyConnect: true,
    });
    client.on('error', () => undefined);
    await client.connect();
  });

  afterAll(async () => {
    client?.disconnect();
    await redis?.close();
  });

  it('keeps a reply error as it is, answers a stopped server with 503, and recovers', async () => {
    await client.set('k', 'a string');
    const wrongType = await failureOf(client.lpush('k', 'x'));
    expect(isDependencyUnavailable(wrongType)).toBe(false);

    await redis.stop();
    const away = await failureOf(client.ping());
    expect(isDependencyUnavailable(away)).toBe(true);
    expect(toAionError(away).code).toBe('service.unavailable');
    expect(retryAfterFor(toAionError(away))).toBe(2);

    await redis.start();
    const deadline = Date.now() + 15_000;
    let answer: string | undefined;
    while (!answer && Date.now() < deadline) {
      answer = await client.ping().catch(() => undefined);
      if (!answer) await new Promise((r) => setTimeout(r, 100));
    }
    expect(answer).toBe('PONG');
  }, 60_000);
});
