import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '@aion/testing';
import { asBackgroundWork, openPostgres, withoutTenant, type Database } from '../../src';

// The hot path's guards (issue 14) read these counts: what a request waits for is told apart
// from what the process's own loops send, including what those loops schedule for later.
describe('statement counts by whose work sent them', () => {
  let testDb: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    testDb = await createTestDatabase('stmtcounts');
    database = openPostgres({ url: testDb.appUrl, max: 2 });
  });
  afterAll(async () => {
    await database.close();
    await testDb.drop();
  });

  const snapshot = () => {
    const c = database.counters!;
    return { all: { ...c, background: undefined }, background: { ...c.background } };
  };

  it('counts a request statement once, a background one in both, and a transaction as three statements', async () => {
    const before = snapshot();
    await database.db.execute(sql`select 1`);
    await asBackgroundWork(async () => {
      await database.db.execute(sql`select 2`);
      // A timer set by background work is background work too.
      await new Promise<void>((resolve) =>
        setTimeout(() => void database.db.execute(sql`select 3`).then(() => resolve()), 5),
      );
    });
    await withoutTenant(database.db, (tx) => tx.execute(sql`select 4`));
    const after = snapshot();
    expect(after.all.statements - before.all.statements).toBe(6); // 1 + 2 + begin, 4, commit
    expect(after.all.transactions - before.all.transactions).toBe(1);
    expect(after.background.statements - before.background.statements).toBe(2);
    expect(after.background.roundTrips - before.background.roundTrips).toBe(2);
    expect(after.background.transactions - before.background.transactions).toBe(0);
  });
});
