import { rowsOf, sql, type Db } from '@aion/db';
import type {
  BreakerCountsDelta,
  BreakerStateStore,
  SharedBreaker,
  SharedBreakerState,
} from '@aion/resilience';

interface Row {
  name: string;
  state: SharedBreakerState;
  version: unknown;
  resets: unknown;
  trial_in_ms: unknown;
  trial_by: string | null;
  trial_left_ms: unknown;
  opened: unknown;
  successes: unknown;
  failures: unknown;
  rejections: unknown;
  last_failure: string | null;
  changed_at: Date | string;
}

/** The columns a record is made of; times relative to the database's clock, not a replica's. */
const COLUMNS = sql.raw(`name, state, version, resets, trial_by, opened, successes, failures,
  rejections, last_failure, changed_at,
  coalesce(greatest(0, extract(epoch from trial_at - now()) * 1000), 0)::float8 as trial_in_ms,
  coalesce(greatest(0, extract(epoch from trial_until - now()) * 1000), 0)::float8 as trial_left_ms`);

function toRecord(row: Row): SharedBreaker {
  return {
    name: row.name,
    state: row.state,
    version: Number(row.version),
    resets: Number(row.resets),
    trialInMs: row.state === 'open' ? Number(row.trial_in_ms) : 0,
    trialBy: row.state === 'half_open' ? (row.trial_by ?? undefined) : undefined,
    trialLeftMs: row.state === 'half_open' ? Number(row.trial_left_ms) : 0,
    opened: Number(row.opened),
    successes: Number(row.successes),
    failures: Number(row.failures),
    rejections: Number(row.rejections),
    lastFailure: row.last_failure ?? undefined,
    lastStateChange: new Date(row.changed_at).toISOString(),
  };
}

/** Failure texts are an engine's error message; what an operator needs of one fits in 1000 characters. */
const clip = (text: string | undefined) => (text === undefined ? null : text.slice(0, 1000));

/**
 * The breakers every orchestrator replica shares (`orc_circuit_breakers`, platform-wide, no RLS).
 * Each change is one statement, conditional on the row's state and version, that answers with
 * the row as it then is: the changed one, or, when another replica got there first, theirs.
 */
export class PostgresBreakerStore implements BreakerStateStore {
  constructor(private readonly db: Db) {}

  /**
   * The changed row, or, when the change did not apply (another replica's came first), the row as
   * it is now. Read by a statement of its own: the change's statement saw the table as it was
   * when it started, before a concurrent change it waited for.
   */
  private async orCurrent(name: string, changed: unknown): Promise<SharedBreaker | undefined> {
    const row =
      rowsOf<Row>(changed)[0] ??
      rowsOf<Row>(
        await this.db.execute(
          sql`select ${COLUMNS} from orc_circuit_breakers where name = ${name}`,
        ),
      )[0];
    return row && toRecord(row);
  }

  async list(): Promise<SharedBreaker[]> {
    const result = await this.db.execute(
      sql`select ${COLUMNS} from orc_circuit_breakers order by name`,
    );
    return rowsOf<Row>(result).map(toRecord);
  }

  async open(
    name: string,
    change: Parameters<BreakerStateStore['open']>[1],
  ): Promise<SharedBreaker> {
    const result = await this.db.execute(sql`
      with changed as (
        insert into orc_circuit_breakers as b
          (name, state, version, trial_at, opened, last_failure, changed_by, changed_at)
        values (${name}, 'open', 1, now() + ${change.halfOpenAfterMs}::float8 * interval '1 millisecond',
          1, ${clip(change.lastFailure)}, ${change.replica}, now())
        on conflict (name) do update set
          state = 'open', version = b.version + 1, trial_at = excluded.trial_at,
          trial_by = null, trial_until = null, opened = b.opened + 1,
          last_failure = coalesce(excluded.last_failure, b.last_failure),
          changed_by = excluded.changed_by, changed_at = now()
        where b.state = 'closed'
          or (b.state = 'half_open' and b.version = ${change.trialVersion ?? null}::bigint
              and b.trial_by = ${change.replica})
        returning b.*
      )
      select ${COLUMNS} from changed`);
    return this.orCurrent(name, result) as Promise<SharedBreaker>;
  }

  async claimTrial(
    name: string,
    claim: { replica: string; leaseMs: number },
  ): Promise<{ claimed: boolean; record: SharedBreaker | undefined }> {
    const result = await this.db.execute(sql`
      with claimed as (
        update orc_circuit_breakers set
          state = 'half_open', version = version + 1, trial_by = ${claim.replica},
          trial_until = now() + ${claim.leaseMs}::float8 * interval '1 millisecond',
          changed_by = ${claim.replica}, changed_at = now()
        where name = ${name}
          and ((state = 'open' and trial_at <= now())
            or (state = 'half_open' and trial_until <= now()))
        returning *
      )
      select ${COLUMNS} from claimed`);
    const claimed = rowsOf<Row>(result)[0];
    return claimed
      ? { claimed: true, record: toRecord(claimed) }
      : { claimed: false, record: await this.orCurrent(name, result) };
  }

  async close(
    name: string,
    change: { replica: string; trialVersion: number },
  ): Promise<SharedBreaker | undefined> {
    const result = await this.db.execute(sql`
      with closed as (
        update orc_circuit_breakers set
          state = 'closed', version = version + 1, trial_at = null, trial_by = null,
          trial_until = null, changed_by = ${change.replica}, changed_at = now()
        where name = ${name} and state = 'half_open' and version = ${change.trialVersion}::bigint
          and trial_by = ${change.replica}
        returning *
      )
      select ${COLUMNS} from closed`);
    return this.orCurrent(name, result);
  }

  async addCounts(deltas: readonly BreakerCountsDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    // Rows are taken in name order, as resetAll takes them, so concurrent replicas cannot deadlock.
    const rows = [...deltas]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((d) => ({ ...d, lastFailure: clip(d.lastFailure) }));
    await this.db.execute(sql`
      insert into orc_circuit_breakers as b
        (name, resets, successes, failures, rejections, last_failure)
      select d.name, d.resets, d.successes, d.failures, d.rejections, d."lastFailure"
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as d(
        name text, resets bigint, successes bigint, failures bigint, rejections bigint,
        "lastFailure" text)
      order by d.name
      on conflict (name) do update set
        successes = b.successes + excluded.successes, failures = b.failures + excluded.failures,
        rejections = b.rejections + excluded.rejections,
        last_failure = coalesce(excluded.last_failure, b.last_failure)
      where b.resets = excluded.resets`);
  }

  async resetAll(replica: string): Promise<string[]> {
    const result = await this.db.execute(sql`
      with locked as (select name from orc_circuit_breakers order by name for update)
      update orc_circuit_breakers b set
        state = 'closed', version = b.version + 1, resets = b.resets + 1, trial_at = null,
        trial_by = null, trial_until = null, opened = 0, successes = 0, failures = 0,
        rejections = 0, last_failure = null, changed_by = ${replica}, changed_at = now()
      from locked where b.name = locked.name
      returning b.name`);
    return rowsOf<{ name: string }>(result)
      .map((r) => r.name)
      .sort();
  }
}
