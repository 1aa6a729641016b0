/**
 * Autovacuum for the embedded database. PGlite is one PostgreSQL backend with no autovacuum
 * launcher, so without this nothing ever analyzes or vacuums: plans stay those of empty tables
 * (measured: a task write's generic plan looked a task up through the tenant's created-at index,
 * filtering every row of the tenant, 1.9 -> 6.7 ms per batch over 4,800 tasks) and dead rows pile
 * up. The same decision PostgreSQL's launcher makes, with its default thresholds: each pass plans
 * every table past them, and the caller runs them one table at a time with other statements in
 * between, so that a pause stays as short as one table's vacuum. (One table per pass starved the
 * rest: the outbox's churn kept it the most overdue, the tasks were never analyzed again, and each
 * task write slowed as the table grew, measured 8 -> 21 ms of CPU per task over three rounds.)
 */

/** A table's counters from pg_stat_user_tables. */
export interface TableActivity {
  schema: string;
  table: string;
  liveRows: number;
  deadRows: number;
  modifiedSinceAnalyze: number;
  insertedSinceVacuum: number;
}

export interface MaintenanceStep {
  schema: string;
  table: string;
  /** `vacuum (analyze)` when dead or newly inserted rows call for it, else `analyze`. */
  vacuum: boolean;
  /** How far past its threshold the table is: the most overdue goes first. */
  overdue: number;
}

// PostgreSQL's defaults (autovacuum_{vacuum,vacuum_insert,analyze}_{threshold,scale_factor}).
const VACUUM_THRESHOLD = 50;
const VACUUM_SCALE = 0.2;
const INSERT_THRESHOLD = 1000;
const INSERT_SCALE = 0.2;
const ANALYZE_THRESHOLD = 50;
const ANALYZE_SCALE = 0.1;

/** Every table past its thresholds, the most overdue first. */
export function maintenancePlan(tables: readonly TableActivity[]): MaintenanceStep[] {
  const steps: MaintenanceStep[] = [];
  for (const t of tables) {
    const dead = t.deadRows / (VACUUM_THRESHOLD + VACUUM_SCALE * t.liveRows);
    const inserted = t.insertedSinceVacuum / (INSERT_THRESHOLD + INSERT_SCALE * t.liveRows);
    const modified = t.modifiedSinceAnalyze / (ANALYZE_THRESHOLD + ANALYZE_SCALE * t.liveRows);
    const overdue = Math.max(dead, inserted, modified);
    if (overdue > 1)
      steps.push({ schema: t.schema, table: t.table, vacuum: dead > 1 || inserted > 1, overdue });
  }
  return steps.sort((a, b) => b.overdue - a.overdue);
}

/** Reads the counters; flushing first, since a lone backend reports them only now and then. */
const ACTIVITY_SQL = `select schemaname as schema, relname as table,
  n_live_tup::float8 as "liveRows", n_dead_tup::float8 as "deadRows",
  n_mod_since_analyze::float8 as "modifiedSinceAnalyze",
  n_ins_since_vacuum::float8 as "insertedSinceVacuum"
  from pg_stat_user_tables`;

/** The part of a PGlite session maintenance needs. */
export interface MaintainedSession {
  query<T>(sql: string): Promise<{ rows: T[] }>;
  exec(sql: string): Promise<unknown>;
}

/** The tables this pass should maintain (flushing the counters first). */
export async function planMaintenance(db: MaintainedSession): Promise<MaintenanceStep[]> {
  await db.query('select pg_stat_force_next_flush()');
  return maintenancePlan((await db.query<TableActivity>(ACTIVITY_SQL)).rows);
}

/**
 * Vacuums or analyzes one table. Runs as the session user (the owner: VACUUM and ANALYZE need it)
 * and returns to the role the session had. The caller runs it between transactions, with nothing
 * else on the session meanwhile.
 */
export async function maintainTable(db: MaintainedSession, step: MaintenanceStep): Promise<void> {
  const [who] = (
    await db.query<{ role: string; owner: string }>(
      'select current_user as role, session_user as owner',
    )
  ).rows;
  const switched = who !== undefined && who.role !== who.owner;
  if (switched) await db.exec('reset role');
  // A tenth of PostgreSQL's sample (3,000 rows instead of 30,000): the plans of a task write need
  // row counts, not fine histograms, and nothing else runs while it reads the sample (measured on
  // the tasks table, jsonb columns and all: 387 ms per analyze at 40,000 rows).
  await db.exec(`set default_statistics_target = ${STATISTICS_TARGET}`);
  try {
    await db.exec(maintenanceSql(step));
  } finally {
    await db.exec('reset default_statistics_target');
    if (switched) await db.exec(`set role ${quoteIdentifier(who.role)}`);
  }
}

const STATISTICS_TARGET = 10;

const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** The statement for a step, the names quoted (they come from the catalog). */
export function maintenanceSql(step: MaintenanceStep): string {
  const table = `${quoteIdentifier(step.schema)}.${quoteIdentifier(step.table)}`;
  return `${step.vacuum ? 'vacuum (analyze)' : 'analyze'} ${table}`;
}
