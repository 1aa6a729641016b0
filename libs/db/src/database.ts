import { AsyncLocalStorage } from 'node:async_hooks';
import { PGlite } from '@electric-sql/pglite';
import { requireTenant, setTenantStatement } from '@aion/tenancy';
import { sql, type SQL } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { Pool, type PoolClient, type PoolConfig } from 'pg';
import { PgliteThread } from './pglite-thread';

/** The Drizzle API both adapters share; repositories are written against this. */
export type Db = PgDatabase<PgQueryResultHKT, Record<string, never>>;
export type Tx = PgTransaction<PgQueryResultHKT, Record<string, never>>;
export type DbOrTx = Db | Tx;

/** What a database has been asked, counted (not timed: the hot path's guards read them). */
export interface StatementCounts {
  /** Statements sent, `begin` and `commit` included. */
  statements: number;
  /** Waits for the server: a statement sent while none of its connection's was in flight. */
  roundTrips: number;
  transactions: number;
}

/** All of it, and the share the process's own work sent (see `asBackgroundWork`). */
export interface DatabaseCounters extends StatementCounts {
  background: StatementCounts;
}

const backgroundWork = new AsyncLocalStorage<true>();

/**
 * Runs `fn`, and whatever it schedules, as the process's own work rather than a request's: the
 * workers' loops (outbox relays, breaker sync, leases, consumers). Their statements are counted
 * apart, so a guard can say what a request itself waits for. Work a request schedules (a timer
 * set while serving it) stays the request's: the split errs towards charging requests.
 */
export function asBackgroundWork<T>(fn: () => T): T {
  return backgroundWork.run(true, fn);
}

export interface Database {
  readonly kind: 'postgres' | 'pglite';
  readonly db: Db;
  /** Live counters (PostgreSQL only; undefined for PGlite). */
  readonly counters?: DatabaseCounters;
  /** Readiness: a round trip to the server. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface PostgresOptions {
  url: string;
  /** Pool size per process (default 10). */
  max?: number;
  idleTimeoutMs?: number;
  statementTimeoutMs?: number;
  applicationName?: string;
}

/** node-postgres pool + Drizzle, connected as the service's (non-owner) role. */
export function openPostgres(options: PostgresOptions): Database & { pool: Pool } {
  const config: PoolConfig = {
    connectionString: options.url,
    max: options.max ?? 10,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
    connectionTimeoutMillis: 10_000,
    application_name: options.applicationName ?? 'aion',
    // Statements issued without waiting for the previous answer go out at once (the server still
    // runs them in order): a transaction's opening travels with its first statement.
    pipeline: true,
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
  };
  const pool = new Pool(config);
  // An idle client that loses its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  const counters: DatabaseCounters = {
    statements: 0,
    roundTrips: 0,
    transactions: 0,
    background: { statements: 0, roundTrips: 0, transactions: 0 },
  };
  pool.on('connect', (client) => countStatements(client, counters));
  const db = drizzlePg(pool) as unknown as Db;
  return {
    kind: 'postgres',
    db,
    pool,
    counters,
    ping: async () => {
      await pool.query('select 1');
    },
    close: () => pool.end(),
  };
}

/**
 * Counts what a connection sends. node-postgres has no hook for this, so its `query` is wrapped
 * (every statement, pool.query's included, goes through it). A statement sent while another of
 * the same connection is still out rides the same round trip (pipelining).
 */
function countStatements(client: PoolClient, counters: DatabaseCounters): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  let outstanding = 0;
  const settle = () => void (outstanding -= 1);
  const count = (into: StatementCounts, args: unknown[]) => {
    into.statements += 1;
    if (outstanding === 0) into.roundTrips += 1;
    if (args[0] === 'begin') into.transactions += 1;
  };
  (client as { query: unknown }).query = (...args: unknown[]) => {
    count(counters, args);
    if (backgroundWork.getStore()) count(counters.background, args);
    outstanding += 1;
    const result = query(...args);
    if (result instanceof Promise) result.then(settle, settle);
    else settle(); // callback or submittable form: counted as a statement, not followed
    return result;
  };
}

/** PGlite (PostgreSQL compiled to WebAssembly) for the embedded default: same SQL, same RLS. */
export async function openPglite(
  options: { dataDir?: string } = {},
): Promise<Database & { client: PGlite }> {
  const client = options.dataDir ? new PGlite(options.dataDir) : new PGlite();
  await client.waitReady;
  const db = drizzlePglite(client) as unknown as Db;
  return {
    kind: 'pglite',
    db,
    client,
    ping: async () => {
      await client.query('select 1');
    },
    close: () => client.close(),
  };
}

/**
 * PGlite on its own thread (pglite-thread.ts): what `npm start` uses, so that SQL does not run on
 * the event loop that serves requests. Same SQL, same RLS, same single session as `openPglite`.
 */
export async function openPgliteThread(
  options: { dataDir?: string; maintenanceEveryMs?: number } = {},
): Promise<Database> {
  const thread = await PgliteThread.open(options);
  // Drizzle's PGlite driver calls only `query` and `transaction`, which the thread provides.
  const db = drizzlePglite(thread as unknown as PGlite) as unknown as Db;
  return {
    kind: 'pglite',
    db,
    ping: async () => {
      await thread.query('select 1');
    },
    close: () => thread.close(),
  };
}

/**
 * Runs `fn` in a transaction scoped to one tenant: row-level security then filters every
 * statement, so a query that forgets `where tenant_id = ...` still sees only this tenant.
 */
export async function withTenant<T>(
  db: Db,
  tenantId: string,
  fn: (tx: Tx) => Promise<T>,
): Promise<T> {
  const unit = openUnit(db);
  if (unit?.tenantId === tenantId) return (async () => fn(unit.tx))();
  return inTransaction(db, [setTenantStatement(tenantId)], fn);
}

interface Unit {
  db: Db;
  tenantId: string;
  tx: Tx;
  /** Work started inside the unit (a timer, a background task) may outlive it: then it is none. */
  open: boolean;
}
const units = new AsyncLocalStorage<Unit>();
const openUnit = (db: Db) => {
  const unit = units.getStore();
  return unit?.open && unit.db === db ? unit : undefined;
};

/**
 * Runs `fn` outside any unit of work: for what a request may start but must not join, such as
 * the outbox relay's timers (the async context would otherwise follow every timer they set).
 */
export function outsideUnitOfWork<T>(fn: () => T): T {
  return units.exit(fn);
}

/**
 * Runs `fn` so that every `withTenant(db, tenantId, ...)` inside it joins one transaction: a
 * change and its audit record commit together or not at all. Any other transaction on the same
 * database inside it (no tenant, another tenant) is refused rather than run apart: it would
 * commit on its own, and on PGlite's single connection it would wait for the unit forever.
 */
export async function inUnitOfWork<T>(db: Db, tenantId: string, fn: () => Promise<T>): Promise<T> {
  const unit = openUnit(db);
  if (unit) {
    if (unit.tenantId === tenantId) return fn();
    throw new Error('a unit of work cannot span two tenants');
  }
  return inTransaction(db, [setTenantStatement(tenantId)], async (tx) => {
    const opened: Unit = { db, tenantId, tx, open: true };
    try {
      return await units.run(opened, fn);
    } finally {
      opened.open = false;
    }
  });
}

/**
 * A transaction that first runs `opening` (settings such as the tenant), then `fn`. On
 * node-postgres the opening is pipelined: `begin` and the opening go out with `fn`'s first
 * statement instead of a round trip each, which on a busy machine is most of a short
 * transaction's cost. The server still runs them in order, and a failed opening statement aborts
 * the transaction, so `fn`'s statements never run without it (`begin` itself fails only with the
 * connection, and then so does everything after it).
 */
export async function inTransaction<T>(
  db: Db,
  opening: SQL[],
  fn: (tx: Tx) => Promise<T>,
): Promise<T> {
  if (openUnit(db))
    throw new Error('a transaction apart from the open unit of work on the same database');
  const pool = (db as { $client?: unknown }).$client;
  if (!(pool instanceof Pool)) {
    let hooks: CommitHook[] = [];
    const result = await db.transaction(async (tx) => {
      commitHooks.set(tx, (hooks = []));
      try {
        for (const statement of opening) await tx.execute(statement);
        return await fn(tx as unknown as Tx);
      } finally {
        commitHooks.delete(tx);
      }
    });
    runCommitHooks(hooks);
    return result;
  }
  const client = await pool.connect();
  // A connection that dies while checked out (a database restart or failover) emits 'error' on
  // the client, and pg-pool listens only while it is idle: unheard, that error ends the process.
  // Heard, the transaction's own statements fail with it and the client is discarded.
  let broken: Error | undefined;
  const onConnectionError = (err: Error) => (broken = err);
  client.on('error', onConnectionError);
  try {
    return await transactionOn(client, opening, fn, (err) => (broken = err));
  } finally {
    client.off('error', onConnectionError);
    client.release(broken);
  }
}

/** A transaction on a checked-out client (see inTransaction); `onBroken` hears a failed rollback. */
async function transactionOn<T>(
  client: PoolClient,
  opening: SQL[],
  fn: (tx: Tx) => Promise<T>,
  onBroken: (err: Error) => void,
): Promise<T> {
  const tx = drizzleFor(client);
  const hooks: CommitHook[] = [];
  commitHooks.set(tx, hooks);
  // `begin` and the opening go out without waiting, and `fn`'s first statements right behind.
  const opened = Promise.all([
    client.query('begin'),
    ...opening.map((statement) => tx.execute(statement)),
  ]);
  // Through an async function: `fn` may return a Drizzle query, which runs again on every `then`.
  const work = (async () => fn(tx))();
  // Both are observed below; until then a failure must not surface as an unhandled rejection.
  opened.catch(() => undefined);
  work.catch(() => undefined);
  try {
    const result = await work;
    await opened;
    commitHooks.delete(tx);
    await client.query('commit');
    runCommitHooks(hooks);
    return result;
  } catch (err) {
    commitHooks.delete(tx);
    // A failed opening is the cause of whatever failed after it.
    const cause = await opened.then(
      () => err,
      (openingError: unknown) => openingError,
    );
    await client.query('rollback').catch(onBroken);
    throw cause;
  }
}

type CommitHook = () => void;
// The hooks of each open transaction (a pooled connection's Drizzle instance is reused by the
// next transaction on it, so the entry lives exactly as long as the transaction).
const commitHooks = new WeakMap<object, CommitHook[]>();

function runCommitHooks(hooks: CommitHook[]): void {
  for (const hook of hooks) hook();
}

/**
 * Runs `hook` right after `tx` commits, before its caller continues (never if it rolls back).
 * Answers false when `tx` is not a transaction opened here (say, a savepoint): the caller then
 * cannot learn of the commit this way.
 */
export function afterCommit(tx: DbOrTx, hook: CommitHook): boolean {
  const hooks = commitHooks.get(tx);
  if (!hooks) return false;
  hooks.push(hook);
  return true;
}

/** One connection held by `withConnection`: statements outside a transaction, or short ones. */
export interface HeldConnection {
  /** One statement on the connection, in no transaction. */
  execute(statement: SQL): Promise<unknown>;
  /** A transaction on the connection, opened with `opening` as `inTransaction` does. */
  transaction<T>(opening: SQL[], fn: (tx: Tx) => Promise<T>): Promise<T>;
}

/**
 * Holds one pooled connection for `fn`'s whole run, for session state that outlives a
 * transaction (a session advisory lock) while no transaction stays open: work that waits on
 * something else (a broker) waits between short transactions, not inside one. On PGlite (one
 * connection) it runs on that connection. A connection that broke is discarded, not pooled.
 */
export async function withConnection<T>(
  db: Db,
  fn: (connection: HeldConnection) => Promise<T>,
): Promise<T> {
  if (openUnit(db)) throw new Error('a connection apart from the open unit of work');
  const pool = (db as { $client?: unknown }).$client;
  if (!(pool instanceof Pool))
    return fn({
      execute: (statement) => db.execute(statement),
      transaction: (opening, body) =>
        db.transaction(async (tx) => {
          for (const statement of opening) await tx.execute(statement);
          return body(tx as unknown as Tx);
        }),
    });
  const client = await pool.connect();
  // As in inTransaction: a connection dying while held must not end the process.
  let broken: Error | undefined;
  const onConnectionError = (err: Error) => (broken = err);
  client.on('error', onConnectionError);
  const conn = drizzleFor(client);
  try {
    return await fn({
      execute: (statement) => conn.execute(statement),
      transaction: (opening, body) => transactionOn(client, opening, body, (err) => (broken = err)),
    });
  } catch (err) {
    // Session state `fn` could not undo (a lock it took) must not stay on a pooled connection.
    broken ??= err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    client.off('error', onConnectionError);
    client.release(broken);
  }
}

// One Drizzle instance per pooled connection (connections live as long as the pool).
const drizzleByClient = new WeakMap<PoolClient, Tx>();

function drizzleFor(client: PoolClient): Tx {
  let tx = drizzleByClient.get(client);
  if (!tx) {
    // A Drizzle database bound to one connection: every statement `fn` issues goes to it. Typed
    // as the transaction it stands for; callers use it only to issue statements.
    tx = drizzlePg(client) as unknown as Tx;
    drizzleByClient.set(client, tx);
  }
  return tx;
}

/** `withTenant` for the tenant of the current request context (what repositories use). */
export function withCurrentTenant<T>(
  db: Db,
  fn: (tx: Tx, tenantId: string) => Promise<T>,
): Promise<T> {
  const { tenantId } = requireTenant();
  return withTenant(db, tenantId, (tx) => fn(tx, tenantId));
}

/**
 * Base of repositories whose statements run in the current request's tenant: `tx` opens a
 * transaction scoped to it, so row-level security filters everything inside.
 */
export abstract class TenantRepository {
  constructor(protected readonly db: Db) {}

  protected tx<T>(fn: (tx: Tx, tenantId: string) => Promise<T>): Promise<T> {
    return withCurrentTenant(this.db, fn);
  }
}

/** The rows of a raw statement (`tx.execute`): node-postgres and PGlite both answer `{ rows }`. */
export function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

/** A transaction with no tenant: RLS-protected tables read as empty. For cross-tenant system work. */
export async function withoutTenant<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return inTransaction(db, [], fn);
}

export { sql };
