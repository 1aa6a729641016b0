import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { migratePostgres, openPostgres, type Database } from '@aion/db';
import { runWithTenant } from '@aion/tenancy';
import { createTestDatabase, type TestDatabase } from '@aion/testing';
import { PostgresBudgets } from '../../src/adapters/db/budget-repository';

const migrations = path.resolve(__dirname, '..', '..', 'migrations');
let testDb: TestDatabase;
let database: Database;
let budgets: PostgresBudgets;
const as = <T>(tenantId: string, fn: () => Promise<T>) =>
  runWithTenant({ tenantId, subject: 'test', roles: ['admin'], requestId: 'r' }, fn);

beforeAll(async () => {
  testDb = await createTestDatabase('budgets');
  await migratePostgres(
    testDb.ownerUrl,
    { folder: migrations, prefix: 'orc' },
    { appRole: testDb.appRole },
  );
  database = openPostgres({ url: testDb.appUrl, max: 20 });
  budgets = new PostgresBudgets(database.db);
});

afterAll(async () => {
  await database.close();
  await testDb.drop();
});

describe('budgets on PostgreSQL', () => {
  it('never overspends under 1,000 concurrent reservations', async () => {
    await as('race', () => budgets.setLimit('', 10));
    const results = await Promise.allSettled(
      Array.from({ length: 1000 }, () => as('race', () => budgets.reserve(randomUUID(), '', 0.05))),
    );
    const admitted = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(admitted).toHaveLength(200);
    expect(refused.every((r) => (r.reason as { code?: string }).code === 'budget.exceeded')).toBe(
      true,
    );
    const state = await as('race', () => budgets.state(''));
    expect(state.reservedUsd + state.committedUsd).toBeLessThanOrEqual(10);
    expect(state.reservedUsd).toBeCloseTo(10, 6);
    expect(state.remainingUsd).toBeCloseTo(0, 6);
  }, 60_000);

  it('never overspends with two replicas reserving at once, and counts a request id both reserve once', async () => {
    const other = new PostgresBudgets(database.db);
    await as('replicas', () => budgets.setLimit('', 10));
    const shared = Array.from({ length: 50 }, () => randomUUID());
    const results = await Promise.allSettled(
      Array.from({ length: 1000 }, (_, i) =>
        as('replicas', () =>
          (i % 2 ? other : budgets).reserve(i < 100 ? shared[i >> 1]! : randomUUID(), '', 0.05),
        ),
      ),
    );
    const admitted = new Set(
      results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.requestId] : [])),
    );
    // Both replicas reserved each shared id; it is one reservation, counted once.
    expect(admitted.size).toBe(200);
    const state = await as('replicas', () => budgets.state(''));
    expect(state.reservedUsd).toBeCloseTo(10, 6);
    expect(state.remainingUsd).toBeCloseTo(0, 6);
  }, 60_000);

  it('takes the remaining budget from what each write left, without reading it again', async () => {
    await as('hint', () => budgets.setLimit('', 1));
    await as('hint', () => budgets.setLimit('p1', 0.5));
    expect(await as('hint', () => budgets.remaining(''))).toBeCloseTo(1, 6);
    const id = randomUUID();
    await as('hint', () => budgets.reserve(id, 'p1', 0.25));
    // The write's own totals: the least of the tenant's 0.75 and the project's 0.25.
    expect(budgets.remainingCache.get('hint', 'p1')?.value).toBeCloseTo(0.25, 6);
    // The tenant-wide hint it may have changed is forgotten, not kept stale.
    expect(budgets.remainingCache.get('hint', '')).toBeUndefined();
    await as('hint', () => budgets.commit(id, 0.1));
    expect(budgets.remainingCache.get('hint', 'p1')?.value).toBeCloseTo(0.4, 6);
    expect(await as('hint', () => budgets.remaining(''))).toBeCloseTo(0.9, 6);
    // A refused step leaves no hint of its own.
    await expect(as('hint', () => budgets.reserve(randomUUID(), 'p1', 5))).rejects.toMatchObject({
      code: 'budget.exceeded',
    });
    expect(budgets.remainingCache.get('hint', 'p1')).toBeUndefined();
  });

  it('keeps reserved + committed within the limit while commits and releases race new reservations', async () => {
    await as('mixed', () => budgets.setLimit('', 5));
    const first = await Promise.all(
      Array.from({ length: 50 }, () => as('mixed', () => budgets.reserve(randomUUID(), '', 0.1))),
    );
    const work = [
      ...first.map((r, i) =>
        as('mixed', () =>
          i % 2 ? budgets.commit(r.requestId, 0.05) : budgets.release(r.requestId),
        ),
      ),
      ...Array.from({ length: 300 }, () =>
        as('mixed', () => budgets.reserve(randomUUID(), '', 0.1)),
      ),
    ];
    await Promise.allSettled(work);
    const state = await as('mixed', () => budgets.state(''));
    expect(state.reservedUsd + state.committedUsd).toBeLessThanOrEqual(5 + 1e-9);
    expect(state.committedUsd).toBeCloseTo(25 * 0.05, 6);
  }, 60_000);

  it('is idempotent by request id at every step', async () => {
    await as('idem', () => budgets.setLimit('', 1));
    const id = randomUUID();
    const [a, b] = await Promise.all([
      as('idem', () => budgets.reserve(id, '', 0.3)),
      as('idem', () => budgets.reserve(id, '', 0.3)),
    ]);
    expect(a).toEqual(b);
    expect((await as('idem', () => budgets.state(''))).reservedUsd).toBeCloseTo(0.3, 6);
    // Raising a reservation reserves only the difference.
    await as('idem', () => budgets.reserve(id, '', 0.5));
    expect((await as('idem', () => budgets.state(''))).reservedUsd).toBeCloseTo(0.5, 6);
    const committed = await as('idem', () => budgets.commit(id, 0.42));
    expect(await as('idem', () => budgets.commit(id, 0.42))).toEqual(committed);
    await expect(as('idem', () => budgets.release(id))).rejects.toMatchObject({
      code: 'state.conflict',
    });
    const state = await as('idem', () => budgets.state(''));
    expect(state).toMatchObject({ limitUsd: 1, committedUsd: 0.42 });
    expect(state.reservedUsd).toBeCloseTo(0, 6);
    await expect(as('idem', () => budgets.commit(randomUUID(), 1))).rejects.toMatchObject({
      code: 'resource.not_found',
    });
  });

  it('applies the tenant limit and the project limit together', async () => {
    await as('proj', () => budgets.setLimit('', 1));
    await as('proj', () => budgets.setLimit('alpha', 0.4));
    await as('proj', () => budgets.reserve(randomUUID(), 'alpha', 0.3));
    await expect(
      as('proj', () => budgets.reserve(randomUUID(), 'alpha', 0.2)),
    ).rejects.toMatchObject({
      code: 'budget.exceeded',
      message: expect.stringContaining('project alpha'),
    });
    await as('proj', () => budgets.reserve(randomUUID(), 'beta', 0.6));
    await expect(
      as('proj', () => budgets.reserve(randomUUID(), 'beta', 0.2)),
    ).rejects.toMatchObject({ message: expect.stringContaining('tenant budget exceeded') });
    expect(await as('proj', () => budgets.remaining('alpha'))).toBeCloseTo(0.1, 6);
  });

  it('keeps tenants apart and treats a tenant without limits as unlimited', async () => {
    expect(await as('free', () => budgets.remaining(''))).toBeUndefined();
    await as('free', () => budgets.reserve(randomUUID(), '', 1000));
    expect((await as('race', () => budgets.state(''))).limitUsd).toBe(10);
    await expect(as('free', () => budgets.reserve(randomUUID(), '', -1))).rejects.toMatchObject({
      code: 'validation.invalid_argument',
    });
  });
});
