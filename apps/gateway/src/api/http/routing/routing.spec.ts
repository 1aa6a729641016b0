import express from 'express';
import request from 'supertest';
import * as z from 'zod/v4';
import type { Principal } from '@aion/auth';
import { errorMiddleware } from '@aion/errors';
import { queryInt } from '../../wire-schemas';
import { mountRoutes } from './mount';
import { errorStatuses, openApiDocument } from './openapi';
import { route, type Route } from './route';

const Item = z.object({ id: z.string(), size: z.int(), note: z.string(), extra: z.unknown() });

/** The signals handlers were given, to see which were aborted and when. */
const handed: AbortSignal[] = [];

function table(): Route[] {
  return [
    route({
      method: 'get',
      path: '/items/{id}',
      operationId: 'getItem',
      summary: 'One item',
      tag: 'items',
      access: 'tasks:read',
      request: {
        path: z.strictObject({ id: z.string().regex(/^[a-z]{1,8}$/) }),
        query: z.strictObject({ size: queryInt(1, 10).default(5) }),
      },
      responses: { 200: { description: 'The item', schema: Item } },
      errors: [404],
      async handle({ path, query }) {
        return { status: 200, body: { id: path.id, size: query.size, note: 'n', extra: null } };
      },
    }),
    route({
      method: 'post',
      path: '/items',
      operationId: 'createItem',
      summary: 'Create an item',
      tag: 'items',
      access: 'tasks:submit',
      request: { body: z.strictObject({ note: z.string().max(10) }) },
      responses: { 201: { description: 'Created', schema: Item } },
      links: { GetItem: { operationId: 'getItem', parameters: { id: '$response.body#/id' } } },
      async handle({ body }) {
        return { status: 201, body: { id: 'abc', size: 1, note: body.note, extra: {} } };
      },
    }),
    route({
      method: 'get',
      path: '/open',
      operationId: 'open',
      summary: 'Anyone',
      tag: 'meta',
      access: 'public',
      request: {},
      responses: { 204: { description: 'Nothing' } },
      async handle({ signal }) {
        handed.push(signal);
        return { status: 204 };
      },
    }),
    route({
      method: 'get',
      path: '/slow',
      operationId: 'slow',
      summary: 'Answers after a while, or never for a client that left',
      tag: 'meta',
      access: 'public',
      request: {},
      responses: { 204: { description: 'Nothing' } },
      async handle({ signal }) {
        handed.push(signal);
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, 2_000);
          signal.addEventListener('abort', () => resolve(clearTimeout(timer)));
        });
        return { status: 204 };
      },
    }),
  ];
}

function app(principal?: Principal, onDenied?: (route: Route, who: Principal) => void) {
  const server = express();
  server.use(express.json());
  server.use((_req, res, next) => {
    if (principal) res.locals['principal'] = principal;
    next();
  });
  server.use(mountRoutes(table(), onDenied ? { onDenied } : {}));
  server.use(errorMiddleware());
  return server;
}

const developer: Principal = {
  kind: 'api_key',
  tenantId: 't1',
  subject: 'k1',
  owner: 'user:someone',
  roles: ['developer'],
};
const observer: Principal = { ...developer, roles: ['observer'] };

describe('mountRoutes', () => {
  it('parses path, query and body with the route schemas and answers with the declared status', async () => {
    const ok = await request(app(developer)).get('/items/abc?size=7');
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ id: 'abc', size: 7, note: 'n', extra: null });
    const created = await request(app(developer)).post('/items').send({ note: 'hello' });
    expect(created.status).toBe(201);
  });

  it('answers bad input with a 400 envelope naming every field', async () => {
    const bad = await request(app(developer)).get('/items/ABC?size=11');
    expect(bad.status).toBe(400);
    expect(bad.body.error_code).toBe('validation.invalid_argument');
    expect(bad.body.details.map((d: { field: string }) => d.field)).toEqual(['id']);
    for (const size of ['', '1e1', ' 5', '5.0', '0', '11'])
      expect((await request(app(developer)).get(`/items/abc?size=${size}`)).status).toBe(400);
    const body = await request(app(developer)).post('/items').send({ note: 'x', more: 1 });
    expect(body.status).toBe(400);
  });

  it('reports a refused permission (not a missing credential) to onDenied', async () => {
    const denied: string[] = [];
    const record = (route: Route, who: Principal) =>
      denied.push(`${who.subject}:${route.operationId}`);
    expect((await request(app(observer, record)).post('/items').send({ note: 'x' })).status).toBe(
      403,
    );
    expect((await request(app(undefined, record)).post('/items').send({ note: 'x' })).status).toBe(
      401,
    );
    expect((await request(app(developer, record)).post('/items').send({ note: 'x' })).status).toBe(
      201,
    );
    expect(denied).toEqual(['k1:createItem']);
  });

  it('checks the permission before anything else', async () => {
    expect((await request(app()).get('/items/ABC')).status).toBe(401);
    expect((await request(app(observer)).post('/items').send({ note: 'x' })).status).toBe(403);
    expect((await request(app()).get('/open')).status).toBe(204);
  });

  it("aborts the handler's signal when the client goes away, not after a finished answer", async () => {
    handed.length = 0;
    expect((await request(app()).get('/open')).status).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(handed.map((signal) => signal.aborted)).toEqual([false]);

    const server = app().listen(0);
    try {
      const { port } = server.address() as { port: number };
      const socket = (await import('node:net')).connect(port, '127.0.0.1');
      socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
      await new Promise((resolve) => setTimeout(resolve, 100));
      socket.destroy(); // the client leaves before the answer
      const deadline = Date.now() + 1_000;
      while (!handed[1]?.aborted && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 10));
      expect(handed[1]?.aborted).toBe(true);
    } finally {
      server.close();
    }
  });

  it('answers an undeclared method on a known path with 405 and Allow', async () => {
    const res = await request(app(developer)).delete('/items/abc');
    expect(res.status).toBe(405);
    expect(res.headers['allow']).toBe('GET, HEAD');
    expect(res.body.error_code).toBe('validation.method_not_allowed');
    expect((await request(app(developer)).get('/nowhere')).status).toBe(404);
  });
});

describe('openApiDocument', () => {
  const doc = openApiDocument(table(), '1.2.3') as {
    paths: Record<string, Record<string, Record<string, unknown>>>;
  };

  it('documents each route from its own schemas', () => {
    const get = doc.paths['/items/{id}']!['get']!;
    expect(get['operationId']).toBe('getItem');
    expect(get['parameters']).toEqual([
      {
        name: 'id',
        in: 'path',
        required: true,
        schema: { type: 'string', pattern: '^[a-z]{1,8}$' },
      },
      {
        name: 'size',
        in: 'query',
        required: false,
        schema: { type: 'integer', minimum: 1, maximum: 10, default: 5 },
      },
    ]);
    const ok = (
      get['responses'] as Record<string, { content: Record<string, { schema: unknown }> }>
    )['200']!.content['application/json']!.schema as { properties: Record<string, unknown> };
    // Free-form strings say that U+0000 is refused; unknown values are any JSON value.
    expect(ok.properties['note']).toEqual({ type: 'string', pattern: '^[^\\u0000]*$' });
    expect(ok.properties['extra']).toEqual({ $ref: '#/components/schemas/JsonValue' });
  });

  it('lists every error a route can answer, from what it declares and what its shape implies', () => {
    const [get, post, open] = table();
    expect(errorStatuses(get!)).toEqual([400, 401, 403, 404, 405, 429, 431, 503, 504]);
    expect(errorStatuses(post!)).toEqual([
      400, 401, 403, 405, 409, 413, 415, 422, 429, 431, 503, 504,
    ]);
    expect(errorStatuses(open!)).toEqual([400, 405, 429, 431, 503, 504]);
    expect(doc.paths['/open']!['get']!['security']).toEqual([]);
  });

  it('documents Idempotency-Key on authenticated POSTs and links created objects', () => {
    const post = doc.paths['/items']!['post']!;
    expect(post['parameters']).toEqual([
      expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: false }),
    ]);
    const created = (post['responses'] as Record<string, Record<string, unknown>>)['201']!;
    expect(created['links']).toEqual({
      GetItem: { operationId: 'getItem', parameters: { id: '$response.body#/id' } },
    });
  });
});
