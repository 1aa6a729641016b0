export type ReservationStatus = 'RESERVED' | 'COMMITTED' | 'RELEASED';

export interface Reservation {
  requestId: string;
  projectId: string;
  amountUsd: number;
  committedUsd: number | null;
  status: ReservationStatus;
}

export interface BudgetState {
  projectId: string;
  /** Undefined when no limit is set for this scope. */
  limitUsd: number | undefined;
  reservedUsd: number;
  committedUsd: number;
  remainingUsd: number | undefined;
}

/**
 * Spending limits per tenant and per project, enforced atomically in the database: a reservation
 * is admitted only while reserved + committed + amount stays within every applicable limit.
 * Every step is idempotent by request id. Runs in the caller's tenant context.
 */
export interface BudgetPort {
  /** The least remaining amount over the tenant and project limits; undefined when neither is set. */
  remaining(projectId: string): Promise<number | undefined>;
  /** Reserves (or raises an existing reservation to) `amountUsd`; fails with budget.exceeded. */
  reserve(requestId: string, projectId: string, amountUsd: number): Promise<Reservation>;
  /** Records what was actually spent and frees the reservation. */
  commit(requestId: string, actualUsd: number): Promise<Reservation>;
  /** Frees a reservation that will not be spent. */
  release(requestId: string): Promise<Reservation>;
  state(projectId: string): Promise<BudgetState>;
  setLimit(projectId: string, limitUsd: number): Promise<BudgetState>;
}
