import { SessionService, type AttemptCounter, type SessionOptions } from './sessions';
import { MemoryRefresh, MemoryUsers } from './sessions.test-support';

const OPTIONS: SessionOptions = {
  signingSecret: new Uint8Array(32).fill(7),
  accessTtlSeconds: 900,
  refreshTtlSeconds: 3600,
  maxAttempts: 5,
  lockoutSeconds: 900,
  hashing: { workers: 2, maxQueue: 64 },
};
const PASSWORD = 'correct horse battery';
/** createUser never counts login attempts. */
const noLogins: AttemptCounter = {
  reserve: () => Promise.reject(new Error('no logins in these tests')),
  release: () => Promise.reject(new Error('no logins in these tests')),
  reset: () => Promise.reject(new Error('no logins in these tests')),
};

let services: SessionService[] = [];
function service(users = new MemoryUsers()) {
  const created = new SessionService(users, new MemoryRefresh(), noLogins, OPTIONS);
  services.push(created);
  return created;
}
afterEach(async () => {
  await Promise.all(services.map((s) => s.close()));
  services = [];
});

describe('creating users', () => {
  it('refuses a case or compatibility variant of an existing name as a conflict', async () => {
    const users = new MemoryUsers();
    const sessions = service(users);
    const alice = await sessions.createUser('t1', 'alice', PASSWORD, 'developer');
    for (const variant of ['ALICE', 'Alice', 'ａｌｉｃｅ'])
      await expect(sessions.createUser('t1', variant, PASSWORD, 'developer')).rejects.toMatchObject(
        { code: 'state.conflict' },
      );
    await sessions.createUser('t2', 'ALICE', PASSWORD, 'developer');
    await sessions.createUser('t1', 'ﬁle', PASSWORD, 'developer');
    await expect(sessions.createUser('t1', 'FILE', PASSWORD, 'developer')).rejects.toMatchObject({
      code: 'state.conflict',
    });
    // The name is shown as it was given; the normalised form is what is unique.
    expect(alice.username).toBe('alice');
    expect(users.rows.map((u) => u.normalizedUsername)).toEqual(['alice', 'alice', 'file']);
  });

  it('refuses names that normalise to nothing usable or hide invisible characters', async () => {
    const sessions = service();
    for (const name of ['', ' ', 'ali\u200bce', 'ali\u0000ce', 'a'.repeat(201)])
      await expect(sessions.createUser('t1', name, PASSWORD, 'developer')).rejects.toMatchObject({
        code: 'validation.invalid_argument',
      });
  });
});
