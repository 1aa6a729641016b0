import path from 'node:path';
import express, { type Express } from 'express';
import request from 'supertest';
import type { Principal } from '@aion/auth';
import { migratePglite, openPglite, type Database } from '@aion/db';
import { AionError, errorMiddleware } from '@aion/errors';
import { PostgresIdempotencyStore } from '../../src/adapters/db/idempotency-store';
import { idempotencyScope } from '../../src/core/idempotency';
import { idempotency, idempotentTaskId } from '../../src/api/http/middleware';

const MIGRATIONS = path.resolve(__dirname, '..', '..', 'migrations');

let database: Database;
beforeAll(async () => {
  database = await openPglite();
  await migratePglite(database, [{ folder: MIGRATIONS, prefix: 'gw' }], { appRole: 'aion_app' });
});
afterAll(() => database?.close());

const principal = (tenantId = 't1'): Principal => ({
  kind: 'api_key',
  tenantId,
  subject: 'key:1',
  owner: 'key:1',
  roles: ['developer'],
});

/**
 * The middleware on the real store, in front of two routes: one that submits a task (answers
 * with the task id it was given) and one that does not; both fail with 503 while `failing`.
 */
function app(state: { failing: boolean; calls: number; release?: Promise<void> }): Express {
  const server = express();
  server.use(express.json());
  server.use((req, res, next) => {
    res.locals['principal'] = principal(req.header('x-tenant') ?? 't1');
    next();
  });
  server.use(
    idempotency(new PostgresIdempotencyStore(database.db), {
      ttlMs: 3_600_000,
      leaseMs: 60_000,
      taskPaths: new Set(['/v1/tasks']),
    }),
  );
  const handler: express.RequestHandler = async (req, res) => {
    state.calls++;
    const taskId = idempotentTaskId(res, (req.body as { task_id?: string }).task_id ?? '');
    await state.release;
    if (state.failing) throw new AionError('service.unavailable', 'orchestrator away');
    res.status(202).setHeader('Location', `/v1/tasks/${taskId}`).json({ task_id: taskId });
  };
  server.post('/v1/tasks', handler);
  server.post('/v1/other', handler);
  server.use(errorMiddleware());
  return server;
}

const post = (server: Express, url: string, key: string, body: unknown = { n: 1 }) =>
  request(server)
    .post(url)
    .set('idempotency-key', key)
    .send(body as object);

describe('idempotency middleware on gw_idempotency_keys', () => {
  it('submits a task route again with the same derived id after a 5xx, then replays', async () => {
    const state = { failing: true, calls: 0 };
    const server = app(state);
    const derived = idempotencyScope('t1', 'key:1', 'POST', '/v1/tasks', 'task-5xx').taskId;
    expect((await post(server, '/v1/tasks', 'task-5xx')).status).toBe(503);
    state.failing = false;
    const retried = await post(server, '/v1/tasks', 'task-5xx');
    expect(retried.status).toBe(202);
    expect(retried.body).toEqual({ task_id: derived });
    // The answer is stored now: a repeat (trailing slash and case as Express matches) replays it.
    const replayed = await post(server, '/V1/Tasks/', 'task-5xx');
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    expect(replayed.headers['location']).toBe(`/v1/tasks/${derived}`);
    expect(replayed.body).toEqual({ task_id: derived });
    expect(state.calls).toBe(2);
  });

  it('keeps the task the request named, and refuses another payload under the key', async () => {
    const server = app({ failing: false, calls: 0 });
    const named = await post(server, '/v1/tasks', 'named', { task_id: 'mine' });
    expect(named.body).toEqual({ task_id: 'mine' });
    const other = await post(server, '/v1/tasks', 'named', { task_id: 'theirs' });
    expect(other.status).toBe(422);
    expect(other.body.error_code).toBe('validation.idempotency_key_reused');
  });

  it('lets a repeat of a running task route through, and holds other routes at 409', async () => {
    let open!: () => void;
    const state = { failing: false, calls: 0, release: new Promise<void>((r) => (open = r)) };
    const server = app(state);
    const task = post(server, '/v1/tasks', 'running').then((r) => r);
    const other = post(server, '/v1/other', 'running').then((r) => r);
    await new Promise((r) => setTimeout(r, 100));
    const taskRepeat = post(server, '/v1/tasks', 'running').then((r) => r);
    const otherRepeat = await post(server, '/v1/other', 'running');
    expect(otherRepeat.status).toBe(409);
    open();
    const [first, repeat] = await Promise.all([task, taskRepeat]);
    expect(repeat.body).toEqual(first.body);
    expect((await other).status).toBe(202);
  });

  it('forgets the key of another route after its 5xx: the retry runs afresh', async () => {
    const state = { failing: true, calls: 0 };
    const server = app(state);
    expect((await post(server, '/v1/other', 'other-5xx')).status).toBe(503);
    state.failing = false;
    expect((await post(server, '/v1/other', 'other-5xx', { n: 2 })).status).toBe(202);
  });

  it('gives another tenant its own record and task for the same key', async () => {
    const server = app({ failing: false, calls: 0 });
    const mine = await post(server, '/v1/tasks', 'shared');
    const theirs = await request(server)
      .post('/v1/tasks')
      .set('idempotency-key', 'shared')
      .set('x-tenant', 't2')
      .send({ n: 2 });
    expect(theirs.status).toBe(202);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(theirs.body.task_id).not.toBe(mine.body.task_id);
  });
});
