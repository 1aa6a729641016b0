import { sql } from 'drizzle-orm';
import { rowsOf, type Db } from '@aion/db';
import { AionError } from '@aion/errors';
import type { Reservation } from '../../core/budget';

/** One step on a reservation; each is idempotent by request id. */
export type BudgetStep =
  | { kind: 'reserve'; requestId: string; projectId: string; amountUsd: number }
  | { kind: 'commit'; requestId: string; actualUsd: number }
  | { kind: 'release'; requestId: string };

/**
 * A step's outcome. An applied one also says what is left, right after it, for its project (the
 * least of the tenant's and the project's budgets; undefined when neither has a limit): the
 * routing hint then comes from the write itself instead of another read.
 */
export type BudgetOutcome =
  { reservation: Reservation; remaining: RemainingBudget } | { error: AionError };

export interface RemainingBudget {
  projectId: string;
  usd: number | undefined;
}

/** The budget rows a project's spending counts against: the tenant's and the project's own. */
export const scopesOf = (projectId: string) => (projectId ? ['', projectId] : ['']);

/** An outcome as migration 0013's orc_budget_step answers it (amounts as numeric text). */
export type BudgetOutcomeJson =
  | {
      reservation: {
        request_id: string;
        project_id: string;
        amount_usd: string;
        committed_usd: string | null;
        status: Reservation['status'];
      };
      remaining: RemainingJson;
    }
  | { error: { code: string; message: string } };

export interface RemainingJson {
  project_id: string;
  usd: string | null;
}

export const remainingOf = (json: RemainingJson): RemainingBudget => ({
  projectId: json.project_id,
  usd: json.usd === null ? undefined : Number(json.usd),
});

export function outcomeOf(json: BudgetOutcomeJson): BudgetOutcome {
  if ('error' in json) return { error: new AionError(json.error.code, json.error.message) };
  const row = json.reservation;
  return {
    reservation: {
      requestId: row.request_id,
      projectId: row.project_id,
      amountUsd: Number(row.amount_usd),
      committedUsd: row.committed_usd === null ? null : Number(row.committed_usd),
      status: row.status,
    },
    remaining: remainingOf(json.remaining),
  };
}

const stepJson = (step: BudgetStep) =>
  step.kind === 'reserve'
    ? {
        kind: step.kind,
        request_id: step.requestId,
        project_id: step.projectId,
        amount_usd: step.amountUsd,
      }
    : step.kind === 'commit'
      ? { kind: step.kind, request_id: step.requestId, actual_usd: step.actualUsd }
      : { kind: step.kind, request_id: step.requestId };

/**
 * Applies budget steps (at most one per request id) in order, in one statement: migration
 * 0013's orc_budget_apply takes the tenant's budget lock, then decides and writes each step on
 * totals nobody else is changing, so concurrent writers never overspend and two replicas
 * reserving one request id cannot both count it. The arithmetic is PostgreSQL's numeric, exact.
 * A refused step is an outcome, not an exception: the others still apply.
 */
export async function applyBudgetSteps(
  db: Db,
  tenantId: string,
  steps: BudgetStep[],
): Promise<BudgetOutcome[]> {
  if (steps.length === 0) return [];
  // A statement by itself, its own transaction: orc_budget_apply sets the tenant for it.
  const result = await db.execute(
    sql`select orc_budget_apply(${tenantId}, ${JSON.stringify(steps.map(stepJson))}::jsonb) as outcomes`,
  );
  const [row] = rowsOf<{ outcomes: BudgetOutcomeJson[] }>(result);
  return row!.outcomes.map(outcomeOf);
}
