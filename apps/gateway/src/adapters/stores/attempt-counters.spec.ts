import { MemoryAttemptCounter } from './attempt-counters';

// The Redis counter runs the same cases on real Redis: test/integration/sessions.int.spec.ts.
describe('MemoryAttemptCounter', () => {
  let now = 1_000_000;
  const counter = () => new MemoryAttemptCounter(() => now);

  it('hands out at most max attempts, also to callers that do not wait for each other', async () => {
    const attempts = counter();
    const taken = await Promise.all(
      Array.from({ length: 8 }, () => attempts.reserve('t:alice', 3, 60)),
    );
    expect(taken).toEqual([
      { allowed: true, attempt: 1 },
      { allowed: true, attempt: 2 },
      { allowed: true, attempt: 3 },
      ...Array.from({ length: 5 }, () => ({ allowed: false, retryAfterSeconds: 60 })),
    ]);
    expect(await attempts.reserve('t:bob', 3, 60)).toEqual({ allowed: true, attempt: 1 });
  });

  it('gives a released attempt back, never below zero', async () => {
    const attempts = counter();
    await attempts.release('t:alice');
    await attempts.reserve('t:alice', 2, 60);
    await attempts.reserve('t:alice', 2, 60);
    await attempts.release('t:alice');
    expect(await attempts.reserve('t:alice', 2, 60)).toEqual({ allowed: true, attempt: 2 });
    expect((await attempts.reserve('t:alice', 2, 60)).allowed).toBe(false);
  });

  it('forgets on reset and on expiry; refused attempts do not extend the lockout', async () => {
    const attempts = counter();
    await attempts.reserve('t:alice', 1, 60);
    await attempts.reset('t:alice');
    expect(await attempts.reserve('t:alice', 1, 60)).toEqual({ allowed: true, attempt: 1 });
    now += 45_000;
    expect(await attempts.reserve('t:alice', 1, 60)).toEqual({
      allowed: false,
      retryAfterSeconds: 15,
    });
    now += 15_000;
    expect(await attempts.reserve('t:alice', 1, 60)).toEqual({ allowed: true, attempt: 1 });
  });
});
