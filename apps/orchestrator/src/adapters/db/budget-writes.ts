import { sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '@aion/db';
import { AionError } from '@aion/errors';
import type { Reservation } from '../../core/budget';

/** One step on a reservation; each is idempotent by request id. */
export type BudgetStep =
  | { kind: 'reserve'; requestId: string; projectId: string; amountUsd: number }
  | { kind: 'commit'; requestId: string; actualUsd: number }
  | { kind: 'release'; requestId: string };

/**
 * A step's outcome. An applied one also says what is left, after every step of its transaction,
 * for its project (the least of the tenant's and the project's budgets; undefined when neither
 * has a limit): the routing hint then comes from the write itself instead of another read.
 */
export type BudgetOutcome =
  | { reservation: Reservation; remaining: { projectId: string; usd: number | undefined } }
  | { error: AionError };

/**
 * Amounts are numeric(18,8) in the database and kept here as integer hundred-millionths, so
 * that 200 reservations of $0.05 fill a $10 limit exactly (binary floating point would not).
 */
const SCALE = 100_000_000;
const units = (text: string | number): number => {
  const [whole = '0', fraction = ''] = String(text).replace('-', '').split('.');
  const value = Number(whole) * SCALE + Number(fraction.padEnd(8, '0').slice(0, 8));
  return String(text).startsWith('-') ? -value : value;
};
const toUnits = (usd: number) => Math.round(usd * SCALE);
const decimal = (value: number) => {
  const sign = value < 0 ? '-' : '';
  const abs = Math.abs(value);
  return `${sign}${Math.floor(abs / SCALE)}.${String(abs % SCALE).padStart(8, '0')}`;
};
const usd = (value: number) => value / SCALE;

/** The budget rows a project's spending counts against: the tenant's and the project's own. */
export const scopesOf = (projectId: string) => (projectId ? ['', projectId] : ['']);

interface ReservationRow {
  request_id: string;
  project_id: string;
  amount_usd: string;
  committed_usd: string | null;
  status: Reservation['status'];
}

interface BudgetRow {
  project_id: string;
  limit_usd: string;
  reserved_usd: string;
  committed_usd: string;
}

/** A text[] parameter, passed as JSON (the query builder would expand an array into a list). */
const textArray = (values: string[]) =>
  sql`array(select jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))`;

interface Totals {
  limit: number;
  reserved: number;
  committed: number;
}

const toReservation = (row: ReservationRow): Reservation => ({
  requestId: row.request_id,
  projectId: row.project_id,
  amountUsd: usd(units(row.amount_usd)),
  committedUsd: row.committed_usd === null ? null : usd(units(row.committed_usd)),
  status: row.status,
});

/**
 * Applies budget steps (at most one per request id) in the caller's transaction, in order,
 * with a fixed number of statements whatever their count. A per-tenant transaction lock comes
 * first: every reservation, commit and release of the tenant is decided on totals nobody else
 * is changing, so concurrent transactions can never overspend, and two replicas reserving
 * the same request id cannot both count it. A refused step is an outcome, not an exception:
 * the others in the transaction still apply.
 */
export async function applyBudgetSteps(
  tx: Tx,
  tenantId: string,
  steps: BudgetStep[],
): Promise<BudgetOutcome[]> {
  if (steps.length === 0) return [];
  const ids = steps.map((s) => s.requestId);
  const reserveScopes = [
    ...new Set(steps.flatMap((s) => (s.kind === 'reserve' ? scopesOf(s.projectId) : ['']))),
  ];
  // The lock, then both reads under it, in one statement (migration 0012's orc_budget_state).
  // The totals are those of every scope a step can touch: the projects reserved for and those of
  // the reservations being committed or released.
  const [state] = rowsOf<{ state: { reservations: ReservationRow[]; budgets: BudgetRow[] } }>(
    await tx.execute(
      sql`select orc_budget_state(${tenantId}, ${textArray(ids)}, ${textArray(reserveScopes)}) as state`,
    ),
  );
  const reservations = state!.state.reservations;
  const budgetRows = state!.state.budgets;
  const existing = new Map(reservations.map((row) => [row.request_id, row]));
  const totals = new Map<string, Totals>();
  for (const row of budgetRows)
    totals.set(row.project_id, {
      limit: units(row.limit_usd),
      reserved: units(row.reserved_usd),
      committed: units(row.committed_usd),
    });

  const changed = new Map<string, ReservationRow>();
  const decisions = steps.map((step) => {
    const row = existing.get(step.requestId);
    const decided = decide(step, row, totals);
    if ('error' in decided) return decided;
    if (decided.row !== row) {
      changed.set(step.requestId, decided.row);
      existing.set(step.requestId, decided.row);
    }
    return decided;
  });
  // Every scope a step touches was read above, so a scope missing from `totals` has no limit.
  const remainingFor = (projectId: string) => {
    const left = scopesOf(projectId).flatMap((scope) => {
      const t = totals.get(scope);
      return t ? [usd(t.limit - t.reserved - t.committed)] : [];
    });
    return { projectId, usd: left.length ? Math.min(...left) : undefined };
  };
  const outcomes = decisions.map((decided): BudgetOutcome =>
    'error' in decided
      ? decided
      : {
          reservation: toReservation(decided.row),
          remaining: remainingFor(decided.row.project_id),
        },
  );
  if (changed.size === 0) return outcomes;

  const rows = [...changed.values()];
  const budgets = [...totals].map(([project_id, t]) => ({
    project_id,
    reserved_usd: decimal(t.reserved),
    committed_usd: decimal(t.committed),
  }));
  // Both writes in one statement (data-modifying WITH clauses run once each, whatever reads them).
  await tx.execute(sql`
    with reservations as (
      insert into orc_budget_reservations
        (tenant_id, request_id, project_id, amount_usd, committed_usd, status)
      select ${tenantId}, v.request_id, v.project_id, v.amount_usd, v.committed_usd, v.status
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as v(
        request_id text, project_id text, amount_usd numeric, committed_usd numeric, status text)
      on conflict (tenant_id, request_id) do update set
        amount_usd = excluded.amount_usd, committed_usd = excluded.committed_usd,
        status = excluded.status, updated_at = now()
      returning 1
    ), budgets as (
      update orc_budgets b set
        reserved_usd = v.reserved_usd, committed_usd = v.committed_usd, updated_at = now()
      from jsonb_to_recordset(${JSON.stringify(budgets)}::jsonb) as v(
        project_id text, reserved_usd numeric, committed_usd numeric)
      where b.tenant_id = ${tenantId} and b.project_id = v.project_id
      returning 1
    )
    select (select count(*) from reservations) as reservations, (select count(*) from budgets) as budgets`);
  return outcomes;
}

/**
 * One step against the reservation as it stands and the tenant's running totals (which it
 * updates when it applies): the new reservation row, the unchanged one when there is nothing to
 * do, or why it is refused.
 */
function decide(
  step: BudgetStep,
  row: ReservationRow | undefined,
  totals: Map<string, Totals>,
): { row: ReservationRow } | { error: AionError } {
  if (step.kind === 'reserve') {
    if (row && (row.status !== 'RESERVED' || units(row.amount_usd) >= toUnits(step.amountUsd)))
      return { row };
    if (row && row.project_id !== step.projectId)
      return {
        error: AionError.conflict(`reservation ${step.requestId} belongs to another project`),
      };
    const amount = toUnits(step.amountUsd);
    const delta = amount - (row ? units(row.amount_usd) : 0);
    for (const scope of scopesOf(step.projectId)) {
      const t = totals.get(scope);
      if (t && t.reserved + t.committed + delta > t.limit) {
        const left = Math.max(0, t.limit - t.reserved - t.committed);
        return {
          error: new AionError(
            'budget.exceeded',
            `${scope ? `project ${scope}` : 'tenant'} budget exceeded: $${usd(left).toFixed(6)} left of $${usd(t.limit)}, $${step.amountUsd.toFixed(6)} requested`,
          ),
        };
      }
    }
    for (const scope of scopesOf(step.projectId)) {
      const t = totals.get(scope);
      if (t) t.reserved += delta;
    }
    return {
      row: {
        request_id: step.requestId,
        project_id: step.projectId,
        amount_usd: decimal(amount),
        committed_usd: null,
        status: 'RESERVED',
      },
    };
  }
  if (!row) return { error: AionError.notFound('reservation', step.requestId) };
  const done = step.kind === 'commit' ? 'COMMITTED' : 'RELEASED';
  if (row.status === done) return { row };
  if (row.status !== 'RESERVED')
    return {
      error: AionError.conflict(
        `reservation ${step.requestId} was ${row.status.toLowerCase()} and cannot be ${done.toLowerCase()}`,
      ),
    };
  const actual = step.kind === 'commit' ? toUnits(step.actualUsd) : 0;
  for (const scope of scopesOf(row.project_id)) {
    const t = totals.get(scope);
    if (!t) continue;
    t.reserved = Math.max(0, t.reserved - units(row.amount_usd));
    t.committed += actual;
  }
  return {
    row: {
      ...row,
      committed_usd: step.kind === 'commit' ? decimal(actual) : row.committed_usd,
      status: done,
    },
  };
}
