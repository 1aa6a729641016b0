/**
 * The embedded database's thread: PGlite (PostgreSQL in WebAssembly) runs its statements
 * synchronously, so on the main thread every statement froze request handling. Here it runs
 * beside the event loop; pglite-thread.ts is the main thread's side.
 */
import { parentPort } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import {
  toWireError,
  type WireResult,
  type WorkerReply,
  type WorkerRequest,
} from './pglite-thread-protocol';
import { maintainTable, planMaintenance, type MaintenanceStep } from './pglite-maintenance';

/**
 * An autovacuum pass (pglite-maintenance.ts) the worker queues itself every few seconds: `plan`
 * finds the tables past their thresholds and queues one `table` step each, behind the statements
 * already waiting, so that requests' statements run between two tables' maintenance.
 */
type Maintenance = { op: 'maintain'; step?: MaintenanceStep; last?: boolean };
type Statement = Exclude<WorkerRequest, { op: 'open' }> | Maintenance;

const port = parentPort;
if (!port) throw new Error('pglite.worker runs in a worker thread');

let database: PGlite | undefined;
const waiting: Statement[] = [];
/** The session whose transaction is open; 0 when none is. */
let openSession = 0;
let running = false;
/** Replies not yet sent: they go out together when nothing else can run (or 32 are ready). */
let replies: WorkerReply[] = [];
let maintenanceQueued = false;
let lastMaintenanceError = '';

const keepText = (value: string) => value;
const flush = () => {
  if (replies.length === 0) return;
  port.postMessage(replies);
  replies = [];
};
const reply = (message: WorkerReply): void => void replies.push(message);

port.on('message', (messages: WorkerRequest[]) => {
  for (const message of messages) {
    if (message.op === 'open') void open(message.dataDir, message.maintenanceEveryMs ?? 10_000);
    else waiting.push(message);
  }
  void drain();
});

async function open(dataDir: string | undefined, maintenanceEveryMs: number): Promise<void> {
  try {
    database = dataDir ? new PGlite(dataDir) : new PGlite();
    await database.waitReady;
    reply({ op: 'opened' });
    // In the queue like a statement: it waits for the open transaction, and nothing runs beside it.
    if (maintenanceEveryMs > 0)
      setInterval(() => {
        if (maintenanceQueued) return;
        maintenanceQueued = true;
        waiting.push({ op: 'maintain' });
        void drain();
      }, maintenanceEveryMs).unref();
  } catch (err) {
    reply({ op: 'failed', error: toWireError(err) });
  }
  flush();
  void drain();
}

/** The next statement that may run: the open transaction's, or the oldest when none is open. */
function takeNext(): Statement | undefined {
  const index =
    openSession === 0 ? 0 : waiting.findIndex((s) => 'session' in s && s.session === openSession);
  return index >= 0 && index < waiting.length ? waiting.splice(index, 1)[0] : undefined;
}

async function drain(): Promise<void> {
  if (running || !database) return;
  running = true;
  try {
    for (let next = takeNext(); next; next = takeNext()) {
      await run(database, next);
      if (replies.length >= 32) flush();
    }
  } finally {
    running = false;
    flush();
  }
}

const done = { rows: [], fields: [] };

async function run(db: PGlite, statement: Statement): Promise<void> {
  try {
    switch (statement.op) {
      case 'close':
        await db.close();
        reply({ id: statement.id, result: done });
        flush();
        return process.exit(0);
      case 'maintain': {
        if (!statement.step) {
          maintenanceQueued = false; // a plan that fails is tried again at the next interval
          const steps = await planMaintenance(db);
          steps.forEach((step, i) =>
            waiting.push({ op: 'maintain', step, last: i === steps.length - 1 }),
          );
          maintenanceQueued = steps.length > 0;
          return;
        }
        if (statement.last) maintenanceQueued = false;
        await maintainTable(db, statement.step);
        return;
      }
      case 'commit':
      case 'rollback':
        // A transaction that issued no statement never opened: nothing to end.
        if (openSession !== statement.session) return reply({ id: statement.id, result: done });
        // The session ends whatever the outcome: a failed commit has rolled back.
        try {
          await db.query(statement.op);
        } finally {
          openSession = 0;
        }
        return reply({ id: statement.id, result: done });
      case 'query': {
        if (statement.session !== 0 && openSession !== statement.session) {
          // A transaction's first statement opens it.
          openSession = statement.session;
          await db.query('begin');
        }
        const parsers = Object.fromEntries((statement.rawTypes ?? []).map((t) => [t, keepText]));
        const result = await db.query(statement.sql, statement.params, {
          rowMode: statement.rowMode ?? 'object',
          parsers,
        });
        const wire: WireResult = {
          rows: result.rows,
          fields: result.fields,
          ...(result.affectedRows !== undefined && { affectedRows: result.affectedRows }),
        };
        return reply({ id: statement.id, result: wire });
      }
    }
  } catch (err) {
    if (statement.op === 'maintain') return warnOnce(err);
    reply({ id: statement.id, error: toWireError(err) });
  }
}

/** A failing maintenance pass is said once per distinct error: the next pass retries anyway. */
function warnOnce(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  if (message === lastMaintenanceError) return;
  lastMaintenanceError = message;
  process.stderr.write(
    `${JSON.stringify({ level: 'warn', msg: 'embedded database maintenance failed', err: message })}\n`,
  );
}
