/**
 * Messages between the main thread and the PGlite worker (pglite.worker.ts). Statements carry
 * the session they belong to: 0 runs on its own (autocommit), any other number is a transaction,
 * which its first statement opens. The worker runs statements one at a time in arrival order, but
 * while a transaction is open only that transaction's statements run; the rest wait in the
 * worker, so waiting for the embedded database never costs the main thread a round trip. Each
 * side sends what it has in one message (an array): on this VM waking the other thread costs
 * more than the statement's copy, so under load many statements share one wake-up.
 */

export type WorkerRequest =
  | { op: 'open'; dataDir?: string; maintenanceEveryMs?: number }
  | {
      op: 'query';
      id: number;
      session: number;
      sql: string;
      params?: unknown[];
      rowMode?: 'object' | 'array';
      /** Types the caller parses itself (its parsers are functions, which cannot cross threads). */
      rawTypes?: number[];
    }
  | { op: 'commit' | 'rollback'; id: number; session: number }
  | { op: 'close'; id: number };

export interface WireResult {
  rows: unknown[];
  fields: { name: string; dataTypeID: number }[];
  affectedRows?: number;
}

/** A PostgreSQL error's fields (code, detail, constraint, …) survive the crossing. */
export type WireError = { message: string } & Record<string, unknown>;

export type WorkerReply =
  | { op: 'opened' }
  | { op: 'failed'; error: WireError }
  | { id: number; result: WireResult }
  | { id: number; error: WireError };

export function toWireError(err: unknown): WireError {
  if (!(err instanceof Error)) return { message: String(err) };
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(err))
    if (value === undefined || ['string', 'number', 'boolean'].includes(typeof value))
      fields[key] = value;
  return { ...fields, name: err.name, message: err.message };
}

export function fromWireError(wire: WireError): Error {
  const { message, ...fields } = wire;
  return Object.assign(new Error(message), fields);
}
