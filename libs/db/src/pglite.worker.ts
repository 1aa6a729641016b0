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

type Statement = Exclude<WorkerRequest, { op: 'open' }>;

const port = parentPort;
if (!port) throw new Error('pglite.worker runs in a worker thread');

let database: PGlite | undefined;
const waiting: Statement[] = [];
/** The session whose transaction is open; 0 when none is. */
let openSession = 0;
let running = false;

const reply = (message: WorkerReply) => port.postMessage(message);
const keepText = (value: string) => value;

port.on('message', (message: WorkerRequest) => {
  if (message.op === 'open') return void open(message.dataDir);
  waiting.push(message);
  void drain();
});

async function open(dataDir: string | undefined): Promise<void> {
  try {
    database = dataDir ? new PGlite(dataDir) : new PGlite();
    await database.waitReady;
    reply({ op: 'opened' });
  } catch (err) {
    reply({ op: 'failed', error: toWireError(err) });
  }
}

/** The next statement that may run: the open transaction's, or the oldest when none is open. */
function takeNext(): Statement | undefined {
  const index =
    openSession === 0 ? 0 : waiting.findIndex((s) => s.op !== 'close' && s.session === openSession);
  return index >= 0 && index < waiting.length ? waiting.splice(index, 1)[0] : undefined;
}

async function drain(): Promise<void> {
  if (running) return;
  running = true;
  try {
    for (let next = takeNext(); next; next = takeNext()) await run(next);
  } finally {
    running = false;
  }
}

async function run(statement: Statement): Promise<void> {
  const db = database;
  if (!db) return reply({ id: statement.id, error: { message: 'the database is not open' } });
  try {
    switch (statement.op) {
      case 'close':
        await db.close();
        reply({ id: statement.id, result: { rows: [], fields: [] } });
        return process.exit(0);
      case 'begin':
        openSession = statement.session;
        await db.query('begin');
        return reply({ id: statement.id, result: { rows: [], fields: [] } });
      case 'commit':
      case 'rollback':
        // The session ends whatever the outcome: a failed commit has rolled back.
        try {
          await db.query(statement.op);
        } finally {
          openSession = 0;
        }
        return reply({ id: statement.id, result: { rows: [], fields: [] } });
      case 'query': {
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
    reply({ id: statement.id, error: toWireError(err) });
  }
}
