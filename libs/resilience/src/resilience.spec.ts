import { BrokenCircuitError, BulkheadRejectedError, TaskCancelledError } from 'cockatiel';
import { BreakerRegistry } from './breakers';
import { bulkheadPolicy, timeoutPolicy } from './policies';
import { backoffDelay, parseRetryAfter, retryPolicy } from './retry';

const fail = () => Promise.reject(new Error('upstream down'));

describe('BreakerRegistry', () => {
  it('opens after consecutive failures, rejects fast, and lists stats', async () => {
    const changes: string[] = [];
    const registry = new BreakerRegistry(
      { consecutiveFailures: 3, halfOpenAfterMs: 60_000 },
      (name, state) => changes.push(`${name}:${state}`),
    );
    for (let i = 0; i < 3; i++)
      await expect(registry.execute('engine-a', fail)).rejects.toThrow('upstream down');
    expect(registry.isOpen('engine-a')).toBe(true);
    await expect(registry.execute('engine-a', () => Promise.resolve(1))).rejects.toBeInstanceOf(
      BrokenCircuitError,
    );
    await expect(registry.execute('engine-b', () => Promise.resolve(2))).resolves.toBe(2);
    const [a, b] = registry.list();
    expect(a).toMatchObject({
      name: 'engine-a',
      state: 'open',
      failures: 3,
      rejections: 1,
      opened: 1,
      lastFailure: 'upstream down',
    });
    expect(b).toMatchObject({ name: 'engine-b', state: 'closed', successes: 1 });
    expect(changes).toEqual(['engine-a:open']);
  });

  it('half-opens after the wait and closes on a successful trial', async () => {
    const registry = new BreakerRegistry({ consecutiveFailures: 1, halfOpenAfterMs: 20 });
    await expect(registry.execute('x', fail)).rejects.toThrow();
    expect(registry.state('x')).toBe('open');
    await new Promise((r) => setTimeout(r, 30));
    await expect(registry.execute('x', () => Promise.resolve('ok'))).resolves.toBe('ok');
    expect(registry.state('x')).toBe('closed');
  });

  it('counts only the errors its classifier blames on the dependency', async () => {
    const registry = new BreakerRegistry({
      consecutiveFailures: 2,
      halfOpenAfterMs: 60_000,
      isFailure: (error) => !(error instanceof Error && error.message.startsWith('bad input')),
    });
    for (let i = 0; i < 5; i++)
      await expect(
        registry.execute('x', () => Promise.reject(new Error('bad input: no text'))),
      ).rejects.toThrow('bad input: no text');
    expect(registry.state('x')).toBe('closed');
    expect(registry.list()[0]).toMatchObject({ failures: 0 });
    for (let i = 0; i < 2; i++) await expect(registry.execute('x', fail)).rejects.toThrow();
    expect(registry.state('x')).toBe('open');
  });

  it('does not count what failed after the caller gave up', async () => {
    const registry = new BreakerRegistry({ consecutiveFailures: 1, halfOpenAfterMs: 60_000 });
    const caller = new AbortController();
    const call = registry.execute(
      'x',
      (signal) =>
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(new Error('aborted by the caller'))),
        ),
      caller.signal,
    );
    caller.abort();
    await expect(call).rejects.toThrow('aborted by the caller');
    expect(registry.state('x')).toBe('closed');
    await expect(registry.execute('x', fail)).rejects.toThrow('upstream down');
    expect(registry.state('x')).toBe('open');
  });

  it('resets every breaker to closed', async () => {
    const registry = new BreakerRegistry({ consecutiveFailures: 1, halfOpenAfterMs: 60_000 });
    await expect(registry.execute('x', fail)).rejects.toThrow();
    await expect(registry.execute('y', fail)).rejects.toThrow();
    expect(await registry.resetAll()).toEqual(['x', 'y']);
    expect(registry.list().map((s) => s.state)).toEqual(['closed', 'closed']);
    await expect(registry.execute('x', () => Promise.resolve(1))).resolves.toBe(1);
  });
});

describe('retry', () => {
  it('uses exponential backoff with full jitter', () => {
    expect(backoffDelay(1, new Error(), { baseDelayMs: 100, random: () => 0.999 })).toBe(99);
    expect(backoffDelay(4, new Error(), { baseDelayMs: 100, random: () => 0.5 })).toBe(400);
    expect(
      backoffDelay(20, new Error(), { baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.999 }),
    ).toBe(999);
  });

  it('honours Retry-After from the error, capped', () => {
    expect(backoffDelay(1, { retryAfterSeconds: 2 })).toBe(2000);
    expect(backoffDelay(1, { retryAfterMs: 50 })).toBe(50);
    expect(backoffDelay(1, { retryAfterSeconds: 3600 }, { maxDelayMs: 5000 })).toBe(5000);
  });

  it('parses Retry-After headers in both forms', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('retries retryable errors until success, and not others', async () => {
    let calls = 0;
    const policy = retryPolicy({ maxAttempts: 3, baseDelayMs: 1 });
    await expect(
      policy.execute(() => (++calls < 3 ? fail() : Promise.resolve('done'))),
    ).resolves.toBe('done');
    expect(calls).toBe(3);
    calls = 0;
    const picky = retryPolicy({
      maxAttempts: 5,
      baseDelayMs: 1,
      retryable: (e) => e.message !== 'fatal',
    });
    await expect(
      picky.execute(() => (++calls, Promise.reject(new Error('fatal')))),
    ).rejects.toThrow('fatal');
    expect(calls).toBe(1);
  });

  it('waits what Retry-After asks before retrying', async () => {
    const started = Date.now();
    let calls = 0;
    const policy = retryPolicy({ maxAttempts: 1 });
    await policy.execute(() =>
      ++calls === 1
        ? Promise.reject(Object.assign(new Error('429'), { retryAfterMs: 120 }))
        : Promise.resolve(),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
  });
});

describe('timeout and bulkhead', () => {
  it('aborts work that runs past the timeout', async () => {
    let aborted = false;
    const policy = timeoutPolicy(20);
    await expect(
      policy.execute(
        ({ signal }) =>
          new Promise((resolve) => {
            signal.addEventListener('abort', () => {
              aborted = true;
            });
            setTimeout(resolve, 200);
          }),
      ),
    ).rejects.toBeInstanceOf(TaskCancelledError);
    expect(aborted).toBe(true);
  });

  it('rejects calls beyond the bulkhead capacity', async () => {
    const policy = bulkheadPolicy(2, 0);
    const slow = () => new Promise((r) => setTimeout(r, 30));
    const results = await Promise.allSettled([
      policy.execute(slow),
      policy.execute(slow),
      policy.execute(slow),
    ]);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(BulkheadRejectedError);
  });
});
