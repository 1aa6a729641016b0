import { MemoryTokenBucketStore } from './token-bucket';

describe('MemoryTokenBucketStore', () => {
  it('allows the burst, then refills at the sustained rate', async () => {
    let now = 0;
    const store = new MemoryTokenBucketStore(() => now);
    const limit = { capacity: 3, refillPerSecond: 1 };
    const first = await Promise.all([1, 2, 3, 4].map(() => store.take('k', limit)));
    expect(first.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(first[3]).toMatchObject({ remaining: 0, retryAfterMs: 1000 });
    now = 1000;
    expect((await store.take('k', limit)).allowed).toBe(true);
    expect((await store.take('k', limit)).allowed).toBe(false);
    now = 60_000;
    expect(await store.take('k', limit)).toMatchObject({ allowed: true, remaining: 2 });
  });

  it('keeps keys apart and rejects nonsense limits', async () => {
    const store = new MemoryTokenBucketStore(() => 0);
    const limit = { capacity: 1, refillPerSecond: 1 };
    expect((await store.take('a', limit)).allowed).toBe(true);
    expect((await store.take('b', limit)).allowed).toBe(true);
    await expect(store.take('c', { capacity: 0, refillPerSecond: 1 })).rejects.toThrow(/capacity/);
  });

  it('stays bounded in memory', async () => {
    const store = new MemoryTokenBucketStore(() => 0, 10);
    for (let i = 0; i < 50; i++) await store.take(`k${i}`, { capacity: 1, refillPerSecond: 1 });
    expect((await store.take('k0', { capacity: 1, refillPerSecond: 1 })).allowed).toBe(true);
  });
});
