import path from 'node:path';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '@aion/testing';
import { setTenantStatement } from '@aion/tenancy';
import {
  inTransaction,
  inUnitOfWork,
  migratePglite,
  migratePostgres,
  openPglite,
  openPgliteThread,
  openPostgres,
  withoutTenant,
  withTenant,
  type Database,
} from '../../src';
import { notes } from '../fixtures/schema';

const target = { folder: path.join(__dirname, '..', 'fixtures', 'migrations'), prefix: 'tst' };

/** The same proof on both adapters: PostgreSQL in production, PGlite in the embedded default. */
function rlsSuite(
  name: string,
  open: () => Promise<{ database: Database; cleanup: () => Promise<void> }>,
) {
  describe(`row-level security on ${name}`, () => {
    let database: Database;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      ({ database, cleanup } = await open());
      await withTenant(database.db, 'tenant-a', (tx) =>
        tx.insert(notes).values([
          { tenantId: 'tenant-a', body: 'a1' },
          { tenantId: 'tenant-a', body: 'a2' },
        ]),
      );
      await withTenant(database.db, 'tenant-b', (tx) =>
        tx.insert(notes).values({ tenantId: 'tenant-b', body: 'b1' }),
      );
    });

    afterAll(async () => {
      await cleanup();
    });

    it('a query with no tenant filter reads only the current tenant', async () => {
      const rowsA = await withTenant(database.db, 'tenant-a', (tx) => tx.select().from(notes));
      expect(rowsA.map((r) => r.body).sort()).toEqual(['a1', 'a2']);
      const rowsB = await withTenant(database.db, 'tenant-b', (tx) => tx.select().from(notes));
      expect(rowsB.map((r) => r.body)).toEqual(['b1']);
    });

    it('a connection with no tenant set reads nothing', async () => {
      expect(await withoutTenant(database.db, (tx) => tx.select().from(notes))).toEqual([]);
      expect(await database.db.select().from(notes)).toEqual([]);
    });

    it('refuses to write a row into another tenant', async () => {
      await expect(
        withTenant(database.db, 'tenant-a', (tx) =>
          tx.insert(notes).values({ tenantId: 'tenant-b', body: 'sneaky' }),
        ),
      ).rejects.toThrow();
      const rowsB = await withTenant(database.db, 'tenant-b', (tx) => tx.select().from(notes));
      expect(rowsB.map((r) => r.body)).toEqual(['b1']);
    });

    it("cannot update or delete another tenant's rows", async () => {
      await withTenant(database.db, 'tenant-a', (tx) => tx.update(notes).set({ body: 'hijacked' }));
      await withTenant(database.db, 'tenant-a', (tx) => tx.delete(notes).where(sql`body = 'b1'`));
      const rowsB = await withTenant(database.db, 'tenant-b', (tx) => tx.select().from(notes));
      expect(rowsB.map((r) => r.body)).toEqual(['b1']);
    });

    it('rolls back all of a failed transaction and keeps serving on the same connections', async () => {
      for (let i = 0; i < 4; i++)
        await expect(
          withTenant(database.db, 'tenant-a', async (tx) => {
            await tx.insert(notes).values({ tenantId: 'tenant-a', body: `doomed-${i}` });
            throw new Error('work failed after writing');
          }),
        ).rejects.toThrow('work failed after writing');
      const rowsA = await withTenant(database.db, 'tenant-a', (tx) => tx.select().from(notes));
      expect(rowsA).toHaveLength(2);
      expect(rowsA.some((r) => r.body.startsWith('doomed'))).toBe(false);
    });

    it('treats a tenant id with quotes as a value, never as SQL', async () => {
      const hostile =
        "x', true); delete from tst_notes; select set_config('aion.tenant_id', 'tenant-a";
      expect(await withTenant(database.db, hostile, (tx) => tx.select().from(notes))).toEqual([]);
      const rowsA = await withTenant(database.db, 'tenant-a', (tx) => tx.select().from(notes));
      expect(rowsA).toHaveLength(2);
    });

    it('a failing opening statement aborts the transaction before its work takes effect', async () => {
      await expect(
        inTransaction(database.db, [setTenantStatement('tenant-a'), sql`select 1 / 0`], (tx) =>
          tx.insert(notes).values({ tenantId: 'tenant-a', body: 'after-a-failed-opening' }),
        ),
      ).rejects.toMatchObject({ cause: { message: 'division by zero' } });
      const rowsA = await withTenant(database.db, 'tenant-a', (tx) => tx.select().from(notes));
      expect(rowsA.map((r) => r.body)).not.toContain('after-a-failed-opening');
    });

    it('statements issued without waiting run in the order they were issued', async () => {
      const [, seen] = await withTenant(database.db, 'tenant-b', (tx) =>
        Promise.all([
          tx.insert(notes).values({ tenantId: 'tenant-b', body: 'b-pipelined' }),
          tx.select().from(notes),
        ]),
      );
      expect(seen.map((r) => r.body).sort()).toEqual(['b-pipelined', 'b1']);
      await withTenant(database.db, 'tenant-b', (tx) =>
        tx.delete(notes).where(sql`body = 'b-pipelined'`),
      );
    });

    it('a unit of work commits the withTenant calls inside it together, or none of them', async () => {
      const write = (body: string) =>
        withTenant(database.db, 'tenant-a', (tx) =>
          tx.insert(notes).values({ tenantId: 'tenant-a', body }),
        );
      await expect(
        inUnitOfWork(database.db, 'tenant-a', async () => {
          await write('unit-change');
          await write('unit-audit');
          throw new Error('the audit record failed');
        }),
      ).rejects.toThrow('the audit record failed');
      const bodies = async () =>
        (await withTenant(database.db, 'tenant-a', (tx) => tx.select().from(notes))).map(
          (r) => r.body,
        );
      expect(await bodies()).not.toContain('unit-change');
      await inUnitOfWork(database.db, 'tenant-a', async () => {
        await write('unit-change');
        await write('unit-audit');
      });
      expect(await bodies()).toEqual(expect.arrayContaining(['unit-change', 'unit-audit']));
      await withTenant(database.db, 'tenant-a', (tx) =>
        tx.delete(notes).where(sql`body like 'unit-%'`),
      );
    });

    it('a unit of work refuses a transaction it cannot join instead of committing it apart', async () => {
      await expect(
        inUnitOfWork(database.db, 'tenant-a', () =>
          withTenant(database.db, 'tenant-b', (tx) =>
            tx.insert(notes).values({ tenantId: 'tenant-b', body: 'apart' }),
          ),
        ),
      ).rejects.toThrow(/apart from the open unit of work/);
      await expect(
        inUnitOfWork(database.db, 'tenant-a', () =>
          inUnitOfWork(database.db, 'tenant-b', async () => undefined),
        ),
      ).rejects.toThrow(/two tenants/);
      const rowsB = await withTenant(database.db, 'tenant-b', (tx) => tx.select().from(notes));
      expect(rowsB.map((r) => r.body)).toEqual(['b1']);
    });

    it('work a unit of work starts but that runs after it (a timer) is on its own again', async () => {
      let later: Promise<unknown> | undefined;
      await inUnitOfWork(database.db, 'tenant-a', async () => {
        later = new Promise((resolve) => setTimeout(resolve, 50)).then(() =>
          withoutTenant(database.db, (tx) => tx.select().from(notes)),
        );
      });
      await expect(later).resolves.toEqual([]);
    });

    it('the tenant setting does not leak past the transaction', async () => {
      await withTenant(database.db, 'tenant-a', (tx) => tx.select().from(notes));
      expect(await database.db.select().from(notes)).toEqual([]);
    });
  });
}

let testDb: TestDatabase;

rlsSuite('PostgreSQL (non-owner role)', async () => {
  testDb = await createTestDatabase('rls');
  await migratePostgres(testDb.ownerUrl, target, { appRole: testDb.appRole });
  // Running the migrator twice is a no-op (replicas and the Helm job may both run it).
  await migratePostgres(testDb.ownerUrl, target, { appRole: testDb.appRole });
  const database = openPostgres({ url: testDb.appUrl, max: 2 });
  return {
    database,
    cleanup: async () => {
      await database.close();
      await testDb.drop();
    },
  };
});

rlsSuite('PGlite (embedded)', async () => {
  const database = await openPglite();
  await migratePglite(database, [target], { appRole: 'aion_app' });
  return { database, cleanup: () => database.close() };
});

rlsSuite('PGlite on its own thread (npm start)', async () => {
  const database = await openPgliteThread();
  await migratePglite(database, [target], { appRole: 'aion_app' });
  return { database, cleanup: () => database.close() };
});
