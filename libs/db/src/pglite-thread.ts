import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  fromWireError,
  type WireResult,
  type WorkerReply,
  type WorkerRequest,
} from './pglite-thread-protocol';

/** What Drizzle's PGlite driver passes with a statement. */
export interface QueryOptions {
  rowMode?: 'object' | 'array';
  parsers?: Record<number, (value: string, typeId: number) => unknown>;
}

/** The part of PGlite's interface that Drizzle's PGlite driver uses: statements and transactions. */
export interface PgliteQueryable {
  query<T = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    options?: QueryOptions,
  ): Promise<WireResult & { rows: T[] }>;
}

function workerEntry(): string {
  // Bundled services ship pglite.worker.js beside main.js (tools/build/bundle.mjs).
  const bundled = path.join(__dirname, 'pglite.worker.js');
  return existsSync(bundled) ? bundled : path.join(__dirname, 'pglite.worker.dev.cjs');
}

interface Pending {
  resolve: (result: WireResult) => void;
  reject: (error: Error) => void;
}

/**
 * PGlite on a worker thread, for the embedded default (`npm start`): SQL no longer runs on the
 * event loop that serves requests. Statements and transactions keep PGlite's semantics (one
 * session, transactions run one at a time); the worker queues what waits for a transaction, so
 * a statement costs at most one message each way, and statements issued together share one.
 */
export class PgliteThread implements PgliteQueryable {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private nextSession = 1;
  private stopped: Error | undefined;
  private opening: Pending | undefined;
  private outgoing: WorkerRequest[] = [];

  private constructor() {
    this.worker = new Worker(workerEntry());
    this.worker.unref();
    this.worker.on('message', (messages: WorkerReply[]) => this.onReplies(messages));
    this.worker.on('error', (err) => this.stop(err));
    this.worker.on('exit', () => this.stop(new Error('the embedded database thread stopped')));
  }

  /** `maintenanceEveryMs`: how often the thread runs an autovacuum pass (0: never; 10 s). */
  static async open(
    options: { dataDir?: string; maintenanceEveryMs?: number } = {},
  ): Promise<PgliteThread> {
    const thread = new PgliteThread();
    thread.worker.ref();
    try {
      await new Promise<void>((resolve, reject) => {
        thread.opening = { resolve: () => resolve(), reject };
        thread.post({ op: 'open', ...options });
      });
    } catch (err) {
      await thread.worker.terminate();
      throw err;
    } finally {
      thread.worker.unref();
    }
    return thread;
  }

  query<T = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    options?: QueryOptions,
  ): Promise<WireResult & { rows: T[] }> {
    return this.statement(0, sql, params, options) as Promise<WireResult & { rows: T[] }>;
  }

  /** A transaction: `fn`'s statements run with no other statement between them. */
  async transaction<T>(fn: (tx: PgliteQueryable) => Promise<T>): Promise<T> {
    // The worker opens the transaction with its first statement: no message of its own.
    const session = this.nextSession++;
    const tx: PgliteQueryable = {
      query: <R>(sql: string, params?: unknown[], options?: QueryOptions) =>
        this.statement(session, sql, params, options) as Promise<WireResult & { rows: R[] }>,
    };
    try {
      const result = await fn(tx);
      await this.send({ op: 'commit', id: 0, session });
      return result;
    } catch (err) {
      await this.send({ op: 'rollback', id: 0, session }).catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.stopped) return;
    await this.send({ op: 'close', id: 0 }).catch(() => undefined);
    await this.worker.terminate();
  }

  private async statement(
    session: number,
    sql: string,
    params: unknown[] | undefined,
    options: QueryOptions | undefined,
  ): Promise<WireResult> {
    const parsers = options?.parsers ?? {};
    const rawTypes = Object.keys(parsers).map(Number);
    const result = await this.send({
      op: 'query',
      id: 0,
      session,
      sql,
      ...(params && params.length > 0 && { params }),
      ...(options?.rowMode && { rowMode: options.rowMode }),
      ...(rawTypes.length > 0 && { rawTypes }),
    });
    if (rawTypes.length > 0) applyParsers(result, parsers, options?.rowMode ?? 'object');
    return result;
  }

  private send(request: Exclude<WorkerRequest, { op: 'open' }>): Promise<WireResult> {
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    return new Promise<WireResult>((resolve, reject) => {
      // The thread holds the process open only while a statement waits for it.
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.post({ ...request, id });
    });
  }

  /** Requests made in one turn of the event loop travel in one message (one wake-up). */
  private post(request: WorkerRequest): void {
    this.outgoing.push(request);
    if (this.outgoing.length === 1) queueMicrotask(() => this.flush());
  }

  private flush(): void {
    const batch = this.outgoing;
    this.outgoing = [];
    if (batch.length > 0) this.worker.postMessage(batch);
  }

  private onReplies(messages: WorkerReply[]): void {
    for (const message of messages) this.onReply(message);
  }

  private onReply(message: WorkerReply): void {
    if ('op' in message) {
      const opening = this.opening;
      this.opening = undefined;
      if (message.op === 'opened') opening?.resolve({ rows: [], fields: [] });
      else opening?.reject(fromWireError(message.error));
      return;
    }
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    if (this.pending.size === 0) this.worker.unref();
    if ('error' in message) waiter.reject(fromWireError(message.error));
    else waiter.resolve(message.result);
  }

  private stop(err: Error): void {
    this.stopped ??= err;
    this.opening?.reject(err);
    this.opening = undefined;
    for (const waiter of this.pending.values()) waiter.reject(err);
    this.pending.clear();
  }
}

/** Runs the caller's parsers over the columns the worker left as text. */
function applyParsers(
  result: WireResult,
  parsers: NonNullable<QueryOptions['parsers']>,
  rowMode: 'object' | 'array',
): void {
  result.fields.forEach((field, column) => {
    const parse = parsers[field.dataTypeID];
    if (!parse) return;
    for (const row of result.rows) {
      const record = row as Record<string | number, unknown>;
      const key = rowMode === 'array' ? column : field.name;
      const value = record[key];
      if (typeof value === 'string') record[key] = parse(value, field.dataTypeID);
    }
  });
}
