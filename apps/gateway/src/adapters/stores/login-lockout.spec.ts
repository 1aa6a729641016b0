import type { AionError } from '@aion/errors';
import { SessionService, type SessionOptions } from '../../core/sessions';
import { MemoryRefresh, MemoryUsers } from '../../core/sessions.test-support';
import { MemoryAttemptCounter } from './attempt-counters';

// The session service on the memory attempt counter (embedded mode); the same race on Redis
// with two replicas: test/integration/sessions.int.spec.ts.
const OPTIONS: SessionOptions = {
  signingSecret: new Uint8Array(32).fill(7),
  accessTtlSeconds: 900,
  refreshTtlSeconds: 3600,
  maxAttempts: 5,
  lockoutSeconds: 900,
  hashing: { workers: 2, maxQueue: 64 },
};
const PASSWORD = 'correct horse battery';
const codeOf = (outcome: PromiseSettledResult<unknown>) =>
  outcome.status === 'fulfilled' ? 'ok' : (outcome.reason as AionError).code;

let services: SessionService[] = [];
function service(options: Partial<SessionOptions> = {}) {
  const created = new SessionService(
    new MemoryUsers(),
    new MemoryRefresh(),
    new MemoryAttemptCounter(),
    {
      ...OPTIONS,
      ...options,
    },
  );
  services.push(created);
  return created;
}
afterEach(async () => {
  await Promise.all(services.map((s) => s.close()));
  services = [];
});

describe('login lockout under concurrency', () => {
  it('never accepts the right password once the attempts are used up by parallel guesses', async () => {
    const sessions = service();
    await sessions.createUser('t1', 'alice', PASSWORD, 'developer');
    const guesses = Array.from({ length: 30 }, (_, i) =>
      sessions.login('t1', 'alice', `wrong guess ${i}`),
    );
    const right = sessions.login('t1', 'alice', PASSWORD);
    const outcomes = await Promise.allSettled([...guesses, right]);
    const codes = outcomes.map(codeOf);
    expect(codes.at(-1)).toBe('auth.account_locked');
    expect(codes.filter((c) => c === 'ok')).toHaveLength(0);
    // Only the attempts within the limit got as far as a password check.
    expect(codes.filter((c) => c === 'auth.invalid_credentials')).toHaveLength(
      OPTIONS.maxAttempts - 1,
    );
    expect(codes.filter((c) => c === 'auth.account_locked')).toHaveLength(
      31 - (OPTIONS.maxAttempts - 1),
    );
  });

  it('accepts the right password inside the limit, and a success clears earlier failures', async () => {
    const sessions = service();
    await sessions.createUser('t1', 'alice', PASSWORD, 'developer');
    const outcomes = await Promise.allSettled([
      sessions.login('t1', 'alice', 'wrong 1'),
      sessions.login('t1', 'alice', 'wrong 2'),
      sessions.login('t1', 'alice', PASSWORD),
    ]);
    expect(outcomes.map(codeOf)).toEqual([
      'auth.invalid_credentials',
      'auth.invalid_credentials',
      'ok',
    ]);
    for (let i = 0; i < OPTIONS.maxAttempts - 1; i++)
      await expect(sessions.login('t1', 'alice', 'wrong')).rejects.toMatchObject({
        code: 'auth.invalid_credentials',
      });
    await expect(sessions.login('t1', 'alice', 'wrong')).rejects.toMatchObject({
      code: 'auth.account_locked',
      retryAfterSeconds: OPTIONS.lockoutSeconds,
    });
    await expect(sessions.login('t1', 'alice', PASSWORD)).rejects.toMatchObject({
      code: 'auth.account_locked',
    });
  });

  it('gives back the attempt when the password could not be checked at all', async () => {
    const sessions = service({ hashing: { workers: 1, maxQueue: 0 } });
    await sessions.createUser('t1', 'alice', PASSWORD, 'developer');
    // One check runs; the others find the queue full and are refused without counting.
    const outcomes = await Promise.allSettled(
      Array.from({ length: 4 }, () => sessions.login('t1', 'alice', 'wrong')),
    );
    expect(outcomes.map(codeOf).sort()).toEqual([
      'auth.invalid_credentials',
      'service.unavailable',
      'service.unavailable',
      'service.unavailable',
    ]);
    await expect(sessions.login('t1', 'alice', PASSWORD)).resolves.toMatchObject({
      token_type: 'Bearer',
    });
  });
});

describe('usernames at login', () => {
  it('logs in with any case or width variant of the one account, sharing one lockout', async () => {
    const sessions = service();
    const created = await sessions.createUser('t1', 'Alice', PASSWORD, 'developer');
    for (const variant of ['alice', 'ALICE', 'aLiCe', 'ＡＬＩＣＥ']) {
      const tokens = await sessions.login('t1', variant, PASSWORD);
      const principal = await sessions.verifyAccessToken(tokens.access_token);
      expect(principal.subject).toBe(`user:${created.id}`);
    }
    for (const variant of ['alice', 'ALICE', 'Alice', 'aLICE', 'ALIce'])
      await sessions.login('t1', variant, 'wrong').catch(() => undefined);
    await expect(sessions.login('t1', 'alice', PASSWORD)).rejects.toMatchObject({
      code: 'auth.account_locked',
    });
  });
});

describe('password hashing at login', () => {
  it('keeps the event loop responsive while parallel logins and sign-ups hash', async () => {
    const sessions = service();
    // Both workers started and warm: what a gateway that has served logins looks like.
    await Promise.all([
      sessions.createUser('t1', 'alice', PASSWORD, 'developer'),
      sessions.createUser('t1', 'frank', PASSWORD, 'developer'),
    ]);
    const lags: number[] = [];
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      lags.push(now - last - 10);
      last = now;
    }, 10);
    try {
      // Ten hashes: four logins (within the attempt limit), two unknown names, four new users.
      await Promise.all([
        ...Array.from({ length: 4 }, () => sessions.login('t1', 'alice', PASSWORD)),
        ...['nobody', 'noone'].map((name) =>
          expect(sessions.login('t1', name, PASSWORD)).rejects.toMatchObject({
            code: 'auth.invalid_credentials',
          }),
        ),
        ...['bob', 'carol', 'dave', 'erin'].map((name) =>
          sessions.createUser('t1', name, PASSWORD, 'observer'),
        ),
      ]);
    } finally {
      clearInterval(ticker);
    }
    // Hashing on the main thread blocks it for ~100-250 ms per hash, so nearly every tick is
    // late by that much; off it, ticks are on time but for what a busy machine adds now and then.
    lags.sort((a, b) => a - b);
    const p90 = lags[Math.floor(lags.length * 0.9)]!;
    expect(lags.length).toBeGreaterThan(20);
    expect(p90).toBeLessThan(50);
  });
});
