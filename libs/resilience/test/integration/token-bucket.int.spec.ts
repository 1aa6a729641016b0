import Redis from 'ioredis';
import { uniqueName } from '@aion/testing';
import { RedisTokenBucketStore } from '../../src/token-bucket';

describe('RedisTokenBucketStore (Lua script on a real Redis)', () => {
  const clients: Redis[] = [];
  const client = () => {
    const redis = new Redis(process.env['REDIS_URL']!, { maxRetriesPerRequest: 2 });
    clients.push(redis);
    return redis;
  };

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
  });

  it('never grants more than the burst to concurrent callers on two connections', async () => {
    const key = uniqueName('burst');
    const replicas = [new RedisTokenBucketStore(client()), new RedisTokenBucketStore(client())];
    const limit = { capacity: 50, refillPerSecond: 0.001 };
    const results = await Promise.all(
      Array.from({ length: 400 }, (_, i) => replicas[i % 2]!.take(key, limit)),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(50);
    const denied = results.find((r) => !r.allowed)!;
    expect(denied.remaining).toBe(0);
    expect(denied.retryAfterMs).toBeGreaterThan(0);
  });

  it('takes two buckets in one call, from both or from neither, without overspending either', async () => {
    const redis = client();
    const monitor = client();
    const replicas = [new RedisTokenBucketStore(redis), new RedisTokenBucketStore(client())];
    const ip = { key: uniqueName('ip'), limit: { capacity: 30, refillPerSecond: 0.001 } };
    const key = { key: uniqueName('key'), limit: { capacity: 10, refillPerSecond: 0.001 } };
    let calls = 0;
    await monitor.monitor().then((m) =>
      m.on('monitor', (_time: string, args: string[]) => {
        // Only this test's calls: other suites share the Redis server.
        if (
          String(args[0]).toLowerCase().startsWith('eval') &&
          args.some((a) => String(a).includes(ip.key))
        )
          calls++;
      }),
    );
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => replicas[i % 2]!.takeAll([ip, key])),
    );
    // The key's 10 tokens bound both: the IP paid only for the 10 admitted requests.
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
    const ipLeft = await replicas[0]!.takeAll([ip]);
    expect(ipLeft.results[0]!.remaining).toBe(19);
    const refused = results.find((r) => !r.allowed)!;
    expect(refused.results[1]!.retryAfterMs).toBeGreaterThan(0);
    expect(refused.results[0]!.retryAfterMs).toBe(0);
    // One script call per take, whatever the number of buckets.
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(101);
  });

  it('refills over time and expires idle buckets', async () => {
    const redis = client();
    const store = new RedisTokenBucketStore(redis, 'test:rl:');
    const key = uniqueName('refill');
    const limit = { capacity: 2, refillPerSecond: 20 };
    expect((await store.take(key, limit, 2)).allowed).toBe(true);
    expect((await store.take(key, limit)).allowed).toBe(false);
    await new Promise((r) => setTimeout(r, 120));
    expect((await store.take(key, limit)).allowed).toBe(true);
    const ttl = await redis.pttl(`test:rl:${key}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1200);
  });

  it('keeps working after the script cache is flushed', async () => {
    const redis = client();
    const store = new RedisTokenBucketStore(redis);
    await redis.script('FLUSH');
    expect(
      (await store.take(uniqueName('flush'), { capacity: 1, refillPerSecond: 1 })).allowed,
    ).toBe(true);
  });
});
