import {
  DegradingTokenBucketStore,
  MemoryTokenBucketStore,
  type TokenBucketStore,
} from './token-bucket';

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

  it('takes several buckets at once: from all when each has the tokens, else from none', async () => {
    const store = new MemoryTokenBucketStore(() => 0);
    const ip = { capacity: 3, refillPerSecond: 1 };
    const key = { capacity: 1, refillPerSecond: 1 };
    const both = () =>
      store.takeAll([
        { key: 'ip', limit: ip },
        { key: 'k', limit: key },
      ]);
    expect(await both()).toMatchObject({
      allowed: true,
      results: [{ remaining: 2 }, { remaining: 0 }],
    });
    // The key's bucket is empty: refused, and the IP's keeps its two tokens.
    const refused = await both();
    expect(refused.allowed).toBe(false);
    expect(refused.results[0]).toMatchObject({ remaining: 2, retryAfterMs: 0 });
    expect(refused.results[1]).toMatchObject({ remaining: 0, retryAfterMs: 1000 });
    expect((await store.take('ip', ip)).remaining).toBe(1);
  });

  it('stays bounded in memory', async () => {
    const store = new MemoryTokenBucketStore(() => 0, 10);
    for (let i = 0; i < 50; i++) await store.take(`k${i}`, { capacity: 1, refillPerSecond: 1 });
    expect((await store.take('k0', { capacity: 1, refillPerSecond: 1 })).allowed).toBe(true);
  });
});

describe('DegradingTokenBucketStore', () => {
  const limit = { capacity: 2, refillPerSecond: 1 };
  const lost = () =>
    Object.assign(new Error("Stream isn't writeable and enableOfflineQueue options is false"), {});

  /** A shared store whose availability the test switches: up (memory-backed), down, or hanging. */
  function switchable() {
    const backing = new MemoryTokenBucketStore(() => 0);
    const state = { mode: 'up' as 'up' | 'down' | 'hang' | 'broken', calls: 0 };
    const available = () => {
      state.calls++;
      if (state.mode === 'down') return Promise.reject(lost());
      if (state.mode === 'broken') return Promise.reject(new Error('ERR script error'));
      if (state.mode === 'hang') return new Promise<never>(() => undefined);
      return undefined;
    };
    const store: TokenBucketStore = {
      take: (key, l, cost) => available() ?? backing.take(key, l, cost),
      takeAll: (takes) => available() ?? backing.takeAll(takes),
    };
    return { store, state };
  }

  it('moves to local buckets while the shared store is away and back once it answers', async () => {
    let now = 0;
    const shared = switchable();
    const changes: boolean[] = [];
    const store = new DegradingTokenBucketStore({
      shared: shared.store,
      local: new MemoryTokenBucketStore(() => now),
      retrySharedAfterMs: 1000,
      onChange: (local) => changes.push(local),
      now: () => now,
    });
    expect((await store.take('k', limit)).allowed).toBe(true);
    expect(store.isLocal).toBe(false);

    shared.state.mode = 'down';
    // The local bucket still enforces the limit: two allowed, the third refused.
    const during = await Promise.all([1, 2, 3].map(() => store.take('k', limit)));
    expect(during.map((r) => r.allowed)).toEqual([true, true, false]);
    expect(store.isLocal).toBe(true);
    // Within the retry interval the shared store is not asked again.
    const callsWhileLocal = shared.state.calls;
    await store.take('k', limit);
    expect(shared.state.calls).toBe(callsWhileLocal);

    shared.state.mode = 'up';
    now = 1500;
    expect((await store.take('k', limit)).allowed).toBe(true);
    expect(store.isLocal).toBe(false);
    expect(shared.state.calls).toBe(callsWhileLocal + 1);
    expect(changes).toEqual([true, false]);
  });

  it('treats a shared store that does not answer in time as away', async () => {
    const shared = switchable();
    shared.state.mode = 'hang';
    const store = new DegradingTokenBucketStore({ shared: shared.store, timeoutMs: 50 });
    const started = Date.now();
    expect((await store.take('k', limit)).allowed).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(store.isLocal).toBe(true);
  });

  it('still throws errors that are not an outage', async () => {
    const shared = switchable();
    shared.state.mode = 'broken';
    const store = new DegradingTokenBucketStore({ shared: shared.store });
    await expect(store.take('k', limit)).rejects.toThrow(/script error/);
    expect(store.isLocal).toBe(false);
  });
});
