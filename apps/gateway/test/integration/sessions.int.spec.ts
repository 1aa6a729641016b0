import path from 'node:path';
import { Redis } from 'ioredis';
import { migratePostgres, openPostgres, type Database } from '@aion/db';
import type { AionError } from '@aion/errors';
import { createTestDatabase, uniqueName, type TestDatabase } from '@aion/testing';
import { SessionService } from '../../src/core/sessions';
import { PostgresRefreshTokens, PostgresUsers } from '../../src/adapters/db/session-stores';
import { RedisAttemptCounter } from '../../src/adapters/stores/attempt-counters';

const MIGRATIONS = path.resolve(__dirname, '..', '..', 'migrations');
const MAX_ATTEMPTS = 5;
const PASSWORD = 'correct horse battery';
const codeOf = (outcome: PromiseSettledResult<unknown>) =>
  outcome.status === 'fulfilled' ? 'ok' : (outcome.reason as AionError).code;

function redisUrl(): string {
  const url = process.env['REDIS_URL'];
  if (!url) throw new Error('REDIS_URL is not set: run through jest.integration.config.cjs');
  return url;
}

/** One gateway replica: its own Redis connection, database pool and hash workers. */
interface Replica {
  sessions: SessionService;
  redis: Redis;
  database: Database;
}

let testDb: TestDatabase;
let replicas: [Replica, Replica];
let probe: Redis;

beforeAll(async () => {
  testDb = await createTestDatabase('gwsessions');
  await migratePostgres(
    testDb.ownerUrl,
    { folder: MIGRATIONS, prefix: 'gw' },
    { appRole: testDb.appRole },
  );
  const replica = (): Replica => {
    const redis = new Redis(redisUrl());
    const database = openPostgres({ url: testDb.appUrl, max: 4 });
    const sessions = new SessionService(
      new PostgresUsers(database.db),
      new PostgresRefreshTokens(database.db),
      new RedisAttemptCounter(redis),
      {
        signingSecret: new Uint8Array(32).fill(9),
        accessTtlSeconds: 900,
        refreshTtlSeconds: 3600,
        maxAttempts: MAX_ATTEMPTS,
        lockoutSeconds: 900,
        hashing: { workers: 1, maxQueue: 64 },
      },
    );
    return { sessions, redis, database };
  };
  replicas = [replica(), replica()];
  probe = new Redis(redisUrl());
});

afterAll(async () => {
  for (const { sessions, redis, database } of replicas ?? []) {
    await sessions.close();
    redis.disconnect();
    await database.close();
  }
  probe?.disconnect();
  await testDb?.drop();
});

describe('login lockout across two replicas sharing Redis', () => {
  it('never accepts the right password once parallel guesses on both replicas used the attempts', async () => {
    const [a, b] = replicas;
    const tenant = uniqueName('lock');
    await a.sessions.createUser(tenant, 'alice', PASSWORD, 'developer');
    const guesses = Array.from({ length: 30 }, (_, i) =>
      (i % 2 ? a : b).sessions.login(tenant, i % 3 ? 'alice' : 'ALICE', `wrong guess ${i}`),
    );
    // Sent after 15 guesses on each connection: at least 15 attempts are taken before either.
    const rights = [a, b].map((r) => r.sessions.login(tenant, 'Alice', PASSWORD));
    const codes = (await Promise.allSettled([...guesses, ...rights])).map(codeOf);
    expect(codes.slice(-2)).toEqual(['auth.account_locked', 'auth.account_locked']);
    expect(codes.filter((c) => c === 'ok')).toHaveLength(0);
    expect(codes.filter((c) => c === 'auth.invalid_credentials')).toHaveLength(MAX_ATTEMPTS - 1);
    expect(await probe.get(`aion:login-failures:${tenant}:alice`)).toBe(String(MAX_ATTEMPTS));
    await expect(b.sessions.login(tenant, 'alice', PASSWORD)).rejects.toMatchObject({
      code: 'auth.account_locked',
    });
  });

  it('shares one counter among the case variants of a name and lets any variant log in', async () => {
    const [a, b] = replicas;
    const tenant = uniqueName('case');
    const alice = await a.sessions.createUser(tenant, 'alice', PASSWORD, 'developer');
    await expect(
      b.sessions.createUser(tenant, 'ALICE', PASSWORD, 'developer'),
    ).rejects.toMatchObject({ code: 'state.conflict' });
    await expect(
      b.sessions.createUser(tenant, 'ａｌｉｃｅ', PASSWORD, 'developer'),
    ).rejects.toMatchObject({ code: 'state.conflict' });
    for (const [replica, variant] of [
      [a, 'ALICE'],
      [b, 'Alice'],
      [a, 'ａｌｉｃｅ'],
    ] as const) {
      const tokens = await replica.sessions.login(tenant, variant, PASSWORD);
      expect((await replica.sessions.verifyAccessToken(tokens.access_token)).subject).toBe(
        `user:${alice.id}`,
      );
    }
    const variants = ['alice', 'ALICE', 'Alice', 'aLiCe', 'ALIce'];
    for (const [i, variant] of variants.entries())
      await replicas[i % 2]!.sessions.login(tenant, variant, 'wrong').catch(() => undefined);
    await expect(a.sessions.login(tenant, 'alice', PASSWORD)).rejects.toMatchObject({
      code: 'auth.account_locked',
    });
  });
});

describe('RedisAttemptCounter on real Redis', () => {
  const counter = (redis: Redis) => new RedisAttemptCounter(redis, `${uniqueName('attempts')}:`);

  it('hands out at most max attempts to callers on two connections at once', async () => {
    const prefix = `${uniqueName('attempts')}:`;
    const [a, b] = replicas.map((r) => new RedisAttemptCounter(r.redis, prefix));
    const taken = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? a! : b!).reserve('t:alice', 3, 60)),
    );
    expect(
      taken
        .filter((t) => t.allowed)
        .map((t) => t.allowed && t.attempt)
        .sort(),
    ).toEqual([1, 2, 3]);
    expect(taken.filter((t) => !t.allowed)).toHaveLength(9);
    for (const refused of taken.filter((t) => !t.allowed))
      expect(refused).toEqual({ allowed: false, retryAfterSeconds: 60 });
  });

  it('gives a released attempt back, never below zero, and forgets on reset', async () => {
    const attempts = counter(replicas[0].redis);
    await attempts.release('t:alice');
    await attempts.reserve('t:alice', 2, 60);
    await attempts.reserve('t:alice', 2, 60);
    await attempts.release('t:alice');
    expect(await attempts.reserve('t:alice', 2, 60)).toEqual({ allowed: true, attempt: 2 });
    expect((await attempts.reserve('t:alice', 2, 60)).allowed).toBe(false);
    await attempts.reset('t:alice');
    expect(await attempts.reserve('t:alice', 2, 60)).toEqual({ allowed: true, attempt: 1 });
  });

  it('expires; refused attempts do not extend the lockout', async () => {
    const attempts = counter(replicas[0].redis);
    await attempts.reserve('t:alice', 1, 2);
    await new Promise((r) => setTimeout(r, 1200));
    expect(await attempts.reserve('t:alice', 1, 2)).toEqual({
      allowed: false,
      retryAfterSeconds: 1,
    });
    await new Promise((r) => setTimeout(r, 1000));
    expect(await attempts.reserve('t:alice', 1, 2)).toEqual({ allowed: true, attempt: 1 });
  });
});
