import { createHash } from 'node:crypto';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePgWithDrizzle } from 'drizzle-orm/node-postgres/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { migrate as migratePgliteWithDrizzle } from 'drizzle-orm/pglite/migrator';
import { Client } from 'pg';
import { createTestDatabase } from '@aion/testing';
import {
  MigrationChecksumError,
  migratePglite,
  migratePostgres,
  migratePostgresAll,
  openPglite,
  type MigrationTarget,
} from '../../src';
import { createTable, MigrationFolder } from './support/migration-folders';

interface HistoryRow {
  tag: string | null;
  hash: string;
  created_at: string;
  applied_at: Date | null;
  duration_ms: number | null;
}

/** One database behind the migrator, on either adapter. */
interface Harness {
  migrate(targets: MigrationTarget[]): Promise<void>;
  /** Runs as the owner (on PGlite: as superuser, the migrator's own role). */
  query<T extends object>(text: string): Promise<T[]>;
  /** Migrates with drizzle's own migrator, as deployments did before checksums were checked. */
  migrateWithDrizzle(target: MigrationTarget): Promise<void>;
  close(): Promise<void>;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

async function refusal(migrating: Promise<unknown>): Promise<MigrationChecksumError> {
  const outcome = await migrating.then(
    () => 'migrated',
    (err: unknown) => err,
  );
  expect(outcome).toBeInstanceOf(MigrationChecksumError);
  return outcome as MigrationChecksumError;
}

function migrationSuite(name: string, open: () => Promise<Harness>) {
  describe(`migrations on ${name}`, () => {
    let db: Harness;
    const folders: MigrationFolder[] = [];

    function folder(label: string): MigrationFolder {
      const created = new MigrationFolder(label);
      folders.push(created);
      return created;
    }

    function history(prefix: string): Promise<HistoryRow[]> {
      return db.query<HistoryRow>(
        `select tag, hash, created_at::text as created_at, applied_at, duration_ms
           from aion_migrations.${prefix}_migrations order by id`,
      );
    }

    async function tableExists(table: string): Promise<boolean> {
      const [row] = await db.query<{ found: string | null }>(
        `select to_regclass('public.${table}')::text as found`,
      );
      return row?.found != null;
    }

    beforeEach(async () => {
      db = await open();
    });

    afterEach(async () => {
      await db.close();
      folders.splice(0).forEach((f) => f.cleanup());
    });

    it("records each migration's tag, checksum, time and duration; migrating again applies nothing", async () => {
      const migrations = folder('record').add(
        createTable('tmg', '0000_alpha', 1_700_000_000_000),
        createTable('tmg', '0001_beta', 1_700_000_100_000, 'SELECT pg_sleep(0.5);'),
      );
      const target = { folder: migrations.dir, prefix: 'tmg', service: 'migration-test' };
      const before = Date.now();
      await db.migrate([target]);
      const after = Date.now();

      const rows = await history('tmg');
      expect(rows.map((r) => [r.tag, r.hash, r.created_at])).toEqual([
        ['0000_alpha', sha256(migrations.read('0000_alpha')), '1700000000000'],
        ['0001_beta', sha256(migrations.read('0001_beta')), '1700000100000'],
      ]);
      for (const row of rows) {
        expect(Number.isInteger(row.duration_ms)).toBe(true);
        expect(row.applied_at).toBeInstanceOf(Date);
        expect(row.applied_at!.getTime()).toBeGreaterThanOrEqual(before - 1000);
        expect(row.applied_at!.getTime()).toBeLessThanOrEqual(after + 1000);
      }
      // The second sleeps 500 ms (60 ms was within a loaded CI machine's time for the first's
      // CREATE TABLE): the duration is its own, not the transaction's or zero.
      expect(rows[1]!.duration_ms).toBeGreaterThanOrEqual(495);
      expect(rows[0]!.duration_ms).toBeLessThan(rows[1]!.duration_ms!);
      expect(rows[1]!.applied_at!.getTime()).toBeGreaterThanOrEqual(rows[0]!.applied_at!.getTime());

      await db.migrate([target]);
      expect(await history('tmg')).toEqual(rows);
      expect(await db.query('select body from tmg_alpha')).toEqual([{ body: 'seed' }]);
    });

    it('refuses an edited applied migration, naming the service, the tag and both checksums, and applies nothing', async () => {
      const migrations = folder('edited').add(createTable('tmg', '0000_alpha', 1_700_000_000_000));
      const target = { folder: migrations.dir, prefix: 'tmg', service: 'migration-test' };
      await db.migrate([target]);
      const applied = migrations.read('0000_alpha');
      const edited = applied.replace("'seed'", "'seed, edited afterwards'");
      migrations.write('0000_alpha', edited);
      migrations.add(createTable('tmg', '0001_beta', 1_700_000_100_000));

      const error = await refusal(db.migrate([target]));
      expect(error.service).toBe('migration-test');
      expect(error.mismatches).toEqual([
        {
          tag: '0000_alpha',
          recordedChecksum: sha256(applied),
          fileChecksum: sha256(edited),
          lineEndingsOnly: false,
        },
      ]);
      for (const part of ['migration-test', '0000_alpha', sha256(applied), sha256(edited)])
        expect(error.message).toContain(part);
      expect(await tableExists('tmg_beta')).toBe(false);
      expect((await history('tmg')).map((r) => r.tag)).toEqual(['0000_alpha']);

      // Restoring the file as it was applied lets the pending migration through.
      migrations.write('0000_alpha', applied);
      await db.migrate([target]);
      expect(await tableExists('tmg_beta')).toBe(true);
    });

    it('refuses a file whose only change is its line endings', async () => {
      const migrations = folder('crlf').add(createTable('tmg', '0000_alpha', 1_700_000_000_000));
      const target = { folder: migrations.dir, prefix: 'tmg' };
      await db.migrate([target]);
      migrations.write('0000_alpha', migrations.read('0000_alpha').replace(/\n/g, '\r\n'));
      migrations.add(createTable('tmg', '0001_beta', 1_700_000_100_000));

      const error = await refusal(db.migrate([target]));
      expect(error.mismatches).toMatchObject([{ tag: '0000_alpha', lineEndingsOnly: true }]);
      expect(error.message).toContain('only line endings differ');
      expect(await tableExists('tmg_beta')).toBe(false);
    });

    it("refuses when an applied migration's file is deleted, or its journal entry with it", async () => {
      const migrations = folder('deleted').add(
        createTable('tmg', '0000_alpha', 1_700_000_000_000),
        createTable('tmg', '0001_beta', 1_700_000_100_000),
      );
      const target = { folder: migrations.dir, prefix: 'tmg', service: 'migration-test' };
      await db.migrate([target]);
      const beta = migrations.read('0001_beta');
      migrations.add(createTable('tmg', '0002_gamma', 1_700_000_200_000));

      migrations.remove('0001_beta');
      const fileGone = await refusal(db.migrate([target]));
      expect(fileGone.mismatches).toEqual([
        {
          tag: '0001_beta',
          recordedChecksum: sha256(beta),
          fileChecksum: null,
          lineEndingsOnly: false,
        },
      ]);
      expect(fileGone.message).toMatch(/0001_beta: applied with sha256 \w+, its file is missing/);

      migrations.remove('0000_alpha', { fromJournal: true });
      const entryGone = await refusal(db.migrate([target]));
      expect(entryGone.mismatches.map((m) => [m.tag, m.fileChecksum])).toEqual([
        ['0000_alpha', null],
        ['0001_beta', null],
      ]);
      expect(await tableExists('tmg_gamma')).toBe(false);
      expect(await history('tmg')).toHaveLength(2);
    });

    it("checks every service's applied migrations before applying any service's", async () => {
      const observability = folder('obs').add(createTable('obs', '0000_alpha', 1_700_000_000_000));
      const pipeline = folder('dpl').add(createTable('dpl', '0000_alpha', 1_700_000_000_000));
      const targets = [
        { folder: observability.dir, prefix: 'obs' },
        { folder: pipeline.dir, prefix: 'dpl' },
      ];
      await db.migrate(targets);
      expect((await history('obs')).map((r) => r.tag)).toEqual(['0000_alpha']);
      expect((await history('dpl')).map((r) => r.tag)).toEqual(['0000_alpha']);

      observability.add(createTable('obs', '0001_beta', 1_700_000_100_000));
      pipeline.write('0000_alpha', `${pipeline.read('0000_alpha')}\n-- tidied up`);
      const error = await refusal(db.migrate(targets));
      // Named after the service that owns the prefix.
      expect(error.service).toBe('data-pipeline');
      expect(error.message).toContain('refusing to migrate data-pipeline');
      expect(await tableExists('obs_beta')).toBe(false);
      expect(await history('obs')).toHaveLength(1);
    });

    it("upgrades a migrations table drizzle's own migrator wrote and checks its rows too", async () => {
      const migrations = folder('legacy').add(createTable('tmg', '0000_alpha', 1_700_000_000_000));
      const target = { folder: migrations.dir, prefix: 'tmg' };
      await db.migrateWithDrizzle(target);
      migrations.add(createTable('tmg', '0001_beta', 1_700_000_100_000));

      await db.migrate([target]);
      const [legacy, fresh] = await history('tmg');
      // Tagged now; when it was applied and how long it took were never recorded.
      expect(legacy).toMatchObject({ tag: '0000_alpha', applied_at: null, duration_ms: null });
      expect(fresh).toMatchObject({ tag: '0001_beta' });
      expect(fresh!.duration_ms).toEqual(expect.any(Number));

      migrations.write('0000_alpha', `${migrations.read('0000_alpha')} `);
      migrations.add(createTable('tmg', '0002_gamma', 1_700_000_200_000));
      expect((await refusal(db.migrate([target]))).mismatches.map((m) => m.tag)).toEqual([
        '0000_alpha',
      ]);
      expect(await tableExists('tmg_gamma')).toBe(false);
    });
  });
}

migrationSuite('PostgreSQL', async () => {
  const testDb = await createTestDatabase('migrations');
  return {
    migrate: (targets) => migratePostgresAll(testDb.ownerUrl, targets, { appRole: testDb.appRole }),
    query: <T extends object>(text: string) => testDb.queryAsOwner<T>(text),
    migrateWithDrizzle: async (target) => {
      const client = new Client({ connectionString: testDb.ownerUrl });
      await client.connect();
      try {
        await migratePgWithDrizzle(drizzlePg(client), {
          migrationsFolder: target.folder,
          migrationsTable: `${target.prefix}_migrations`,
          migrationsSchema: 'aion_migrations',
        });
      } finally {
        await client.end();
      }
    },
    close: () => testDb.drop(),
  };
});

migrationSuite('PGlite (embedded)', async () => {
  const database = await openPglite();
  return {
    migrate: (targets) => migratePglite(database, targets, { appRole: 'aion_app' }),
    query: async <T extends object>(text: string) => {
      await database.client.query('reset role');
      return (await database.client.query<T>(text)).rows;
    },
    migrateWithDrizzle: (target) =>
      migratePgliteWithDrizzle(database.db as unknown as PgliteDatabase, {
        migrationsFolder: target.folder,
        migrationsTable: `${target.prefix}_migrations`,
        migrationsSchema: 'aion_migrations',
      }),
    close: () => database.close(),
  };
});

describe('replicas migrating PostgreSQL at once', () => {
  it('apply each migration once, for several services at the same time', async () => {
    const testDb = await createTestDatabase('migrations');
    const folders = ['obs', 'dpl', 'mod'].map((prefix) =>
      new MigrationFolder(prefix).add(
        createTable(prefix, '0000_alpha', 1_700_000_000_000),
        createTable(prefix, '0001_beta', 1_700_000_100_000, 'SELECT pg_sleep(0.05);'),
      ),
    );
    try {
      const targets = folders.map((f, i) => ({ folder: f.dir, prefix: ['obs', 'dpl', 'mod'][i]! }));
      // Two replicas of each service, all starting together on an empty database.
      await Promise.all(
        [...targets, ...targets].map((target) =>
          migratePostgres(testDb.ownerUrl, target, { appRole: testDb.appRole }),
        ),
      );
      for (const { prefix } of targets) {
        const rows = await testDb.queryAsOwner<{ tag: string; duration_ms: number }>(
          `select tag, duration_ms from aion_migrations.${prefix}_migrations order by id`,
        );
        expect(rows.map((r) => r.tag)).toEqual(['0000_alpha', '0001_beta']);
        expect(rows[1]!.duration_ms).toBeGreaterThanOrEqual(45);
        expect(await testDb.queryAsOwner(`select body from ${prefix}_alpha`)).toEqual([
          { body: 'seed' },
        ]);
      }
    } finally {
      folders.forEach((f) => f.cleanup());
      await testDb.drop();
    }
  });
});
