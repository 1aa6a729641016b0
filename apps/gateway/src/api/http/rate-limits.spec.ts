import express, { type RequestHandler } from 'express';
import request from 'supertest';
import { AionError, errorMiddleware } from '@aion/errors';
import { MemoryTokenBucketStore, type BucketTake, type TokenBucketStore } from '@aion/resilience';
import { rateLimits } from './middleware';

/** Authenticates `Bearer good`, refuses any other credential; no credential is anonymous. */
const authenticate: RequestHandler = (req, res, next) => {
  const header = req.headers.authorization;
  if (!header) return next();
  if (header !== 'Bearer good') return next(new AionError('auth.invalid_credentials', 'bad key'));
  res.locals['principal'] = { tenantId: 't', subject: 'key:1', keyId: 'k1', roles: [] };
  next();
};

function appWith(store: TokenBucketStore) {
  const app = express();
  app.use(
    rateLimits(
      store,
      {
        perIp: { capacity: 3, refillPerSecond: 0.001 },
        perKey: { capacity: 1, refillPerSecond: 0.001 },
      },
      { authenticate, isPublic: (req) => req.path === '/public' },
    ),
  );
  app.get(['/public', '/private'], (_req, res) => void res.json({ ok: true }));
  app.use(errorMiddleware());
  return app;
}

/** Counts the store's calls and what each took. */
function counted() {
  const memory = new MemoryTokenBucketStore(() => 0);
  const calls: string[][] = [];
  const store: TokenBucketStore = {
    take: (key, limit, cost) => memory.take(key, limit, cost),
    takeAll: (takes: readonly BucketTake[]) => {
      calls.push(takes.map((t) => t.key.split(':')[0]!));
      return memory.takeAll(takes);
    },
  };
  return { store, calls };
}

describe('rate limits per IP and per key', () => {
  it('takes both buckets in one call once the key is known, and only the IP for public routes', async () => {
    const { store, calls } = counted();
    const app = appWith(store);
    expect((await request(app).get('/private').set('authorization', 'Bearer good')).status).toBe(
      200,
    );
    expect((await request(app).get('/public').set('authorization', 'Bearer bad')).status).toBe(200);
    expect(calls).toEqual([['ip', 'principal'], ['ip']]);
    // The key's one token is spent: refused, and the IP is not charged for the refusal.
    const refused = await request(app).get('/private').set('authorization', 'Bearer good');
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBeDefined();
    expect(refused.headers['ratelimit']).toMatch(/^"per-ip";r=1;t=\d+, "per-key";r=0;t=\d+$/);
  });

  it('charges the IP for a credential that fails, so guessing keys runs into 429', async () => {
    const { store } = counted();
    const app = appWith(store);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await request(app).get('/private').set('authorization', 'Bearer bad')).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
  });
});
