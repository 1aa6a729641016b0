import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { migratePglite, migratePostgres, openPglite, openPostgres, type Database } from '@aion/db';
import { createTestDatabase, migrationsUpTo } from '@aion/testing';
import type { UserRecord } from '../../src/core/sessions';
import { PostgresUsers } from '../../src/adapters/db/session-stores';

const MIGRATIONS = path.resolve(__dirname, '..', '..', 'migrations');
const BEFORE_NORMALISED_NAMES = '0002_users_and_refresh_tokens';

const user = (tenantId: string, username: string, normalizedUsername: string): UserRecord => ({
  id: randomUUID(),
  tenantId,
  username,
  normalizedUsername,
  passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
  role: 'developer',
  disabledAt: null,
});

/** The database's own error under Drizzle's "Failed query" wrapper. */
async function refusal(migration: Promise<unknown>): Promise<{ message: string; hint?: string }> {
  const err = await migration.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!err) throw new Error('the migration went through');
  return (err.cause ?? err) as { message: string; hint?: string };
}

interface Subject {
  database: Database;
  migrate(folder: string): Promise<void>;
  /** Runs a statement as the schema owner (no row-level security). */
  asOwner(text: string, values?: unknown[]): Promise<unknown[]>;
  close(): Promise<void>;
}

const backends: [string, () => Promise<Subject>][] = [
  [
    'PGlite (embedded)',
    async () => {
      const database = await openPglite();
      return {
        database,
        migrate: (folder) =>
          migratePglite(database, [{ folder, prefix: 'gw' }], { appRole: 'aion_app' }),
        asOwner: async (text, values = []) => {
          await database.client.query('reset role');
          try {
            return (await database.client.query(text, values)).rows;
          } finally {
            await database.client.query('set role aion_app');
          }
        },
        close: () => database.close(),
      };
    },
  ],
  [
    'PostgreSQL',
    async () => {
      const testDb = await createTestDatabase('gwusers');
      const database = openPostgres({ url: testDb.appUrl, max: 2 });
      return {
        database,
        migrate: (folder) =>
          migratePostgres(testDb.ownerUrl, { folder, prefix: 'gw' }, { appRole: testDb.appRole }),
        asOwner: (text, values) => testDb.queryAsOwner(text, values),
        close: async () => {
          await database.close();
          await testDb.drop();
        },
      };
    },
  ],
];

let oldMigrations: string;
beforeAll(() => {
  oldMigrations = migrationsUpTo(MIGRATIONS, BEFORE_NORMALISED_NAMES);
});
afterAll(() => rmSync(oldMigrations, { recursive: true, force: true }));

describe.each(backends)('gw_users on %s', (_name, open) => {
  let subject: Subject | undefined;
  afterEach(async () => {
    await subject?.close();
    subject = undefined;
  });

  /** A database at the schema before this change, holding `rows` (tenant, username). */
  async function legacy(rows: [string, string][]): Promise<Subject> {
    subject = await open();
    await subject.migrate(oldMigrations);
    for (const [tenant, name] of rows)
      await subject.asOwner(
        `insert into gw_users (id, tenant_id, username, password_hash, role) values ($1, $2, $3, 'h', 'observer')`,
        [randomUUID(), tenant, name],
      );
    return subject;
  }

  it('holds one account per normalised name and tenant, and finds it by that name', async () => {
    subject = await open();
    await subject.migrate(MIGRATIONS);
    const users = new PostgresUsers(subject.database.db);
    const alice = user('t1', 'Alice', 'alice');
    await users.create(alice);
    await expect(users.create(user('t1', 'ALICE', 'alice'))).rejects.toMatchObject({
      code: 'state.conflict',
    });
    await users.create(user('t2', 'ALICE', 'alice'));
    expect(await users.find('t1', 'alice')).toMatchObject({ id: alice.id, username: 'Alice' });
    expect(await users.find('t1', 'Alice')).toBeUndefined();
  });

  it('fills the normalised name of existing users, who then log in by any case', async () => {
    const { database, migrate } = await legacy([
      ['t1', 'Alice'],
      ['t2', 'alice'],
      ['t1', 'bob.Smith+ops@example.org'],
    ]);
    await migrate(MIGRATIONS);
    const users = new PostgresUsers(database.db);
    expect(await users.find('t1', 'alice')).toMatchObject({ username: 'Alice' });
    expect(await users.find('t2', 'alice')).toMatchObject({ username: 'alice' });
    expect(await users.find('t1', 'bob.smith+ops@example.org')).toMatchObject({
      username: 'bob.Smith+ops@example.org',
    });
    await expect(users.create(user('t1', 'ALICE', 'alice'))).rejects.toMatchObject({
      code: 'state.conflict',
    });
  });

  it('refuses to migrate, naming them, while names of a tenant differ only in case', async () => {
    const { database, migrate, asOwner } = await legacy([
      ['t1', 'alice'],
      ['t1', 'ALICE'],
      ['t2', 'alice'],
      ['t2', 'bob'],
    ]);
    expect(await refusal(migrate(MIGRATIONS))).toMatchObject({
      message: expect.stringMatching(
        /usernames that differ only in case.*tenant t1: ALICE, alice$/,
      ),
      hint: expect.stringContaining('Rename or delete all but one'),
    });
    // Nothing changed: rename one, and the migration goes through.
    const column = await asOwner(
      `select 1 from information_schema.columns where table_name = 'gw_users' and column_name = 'username_normalized'`,
    );
    expect(column).toHaveLength(0);
    await asOwner(`update gw_users set username = 'alice2' where username = 'ALICE'`);
    await migrate(MIGRATIONS);
    expect(await new PostgresUsers(database.db).find('t1', 'alice2')).toBeDefined();
  });

  it('refuses to migrate non-ASCII names it cannot normalise the way the gateway does', async () => {
    const { migrate } = await legacy([['t1', 'Straße']]);
    expect(await refusal(migrate(MIGRATIONS))).toMatchObject({
      message: expect.stringMatching(/non-ASCII usernames.*tenant t1: Straße$/),
    });
  });
});
