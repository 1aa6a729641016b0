import * as z from 'zod/v4';
import type { Permission } from '@aion/auth';
import { route, type ErrorStatus, type Route } from './route';

/** A collection of objects a tenant creates, lists, reads, replaces and deletes by id. */
export interface Collection<
  Query extends z.ZodObject,
  Body extends z.ZodType,
  Item extends z.ZodType,
> {
  /** e.g. /api/v1/sovereign/residency/rules; one object is `${path}/{id}`. */
  path: string;
  /** Names the operations, e.g. ResidencyRule: listResidencyRules, getResidencyRule ... */
  kind: string;
  /** In summaries, e.g. 'residency rule'. */
  noun: string;
  tag: string;
  read: Permission;
  manage: Permission;
  id: z.ZodObject<{ id: z.ZodType<string> }>;
  query: Query;
  body: Body;
  item: Item;
  /** Errors creating or replacing may answer besides those of the route's shape. */
  conflicts: ErrorStatus[];
  list(query: z.output<Query>): Promise<{
    data: z.input<Item>[];
    next_page_token: string | null;
    total: number;
  }>;
  create(body: z.output<Body>): Promise<z.input<Item> & { id: string }>;
  get(id: string): Promise<z.input<Item>>;
  replace(id: string, body: z.output<Body>): Promise<z.input<Item>>;
  remove(id: string): Promise<void>;
}

/**
 * The five routes of a collection, with links from a created object to the others. The
 * Collection's own signature types the callbacks against its schemas; inside this generic
 * function the compiler cannot resolve those schema types, hence the `as never` on replies.
 */
export function collectionRoutes<
  Query extends z.ZodObject,
  Body extends z.ZodType,
  Item extends z.ZodType,
>(c: Collection<Query, Body, Item>): Route[] {
  const one = `${c.path}/{id}`;
  const byId = (operation: string) => ({
    [`${operation}${c.kind}`]: {
      operationId: `${operation}${c.kind}`,
      parameters: { id: '$response.body#/id' },
    },
  });
  const common = { tag: c.tag } as const;
  return [
    route({
      ...common,
      method: 'get',
      path: c.path,
      operationId: `list${c.kind}s`.replace(/ys$/, 'ies'),
      summary: `List ${c.noun}s`,
      access: c.read,
      request: { query: c.query },
      responses: {
        200: {
          description: `A page of ${c.noun}s`,
          schema: z.object({
            data: z.array(c.item),
            next_page_token: z.string().nullable(),
            total: z.int().min(0),
          }),
        },
      },
      async handle({ query }) {
        return { status: 200, body: (await c.list(query as z.output<Query>)) as never };
      },
    }),
    route({
      ...common,
      method: 'post',
      path: c.path,
      operationId: `create${c.kind}`,
      summary: `Add a ${c.noun}`,
      access: c.manage,
      request: { body: c.body },
      responses: { 201: { description: `The ${c.noun}`, schema: c.item } },
      errors: c.conflicts,
      links: { ...byId('get'), ...byId('update'), ...byId('delete') },
      async handle({ body }) {
        const created = await c.create(body as z.output<Body>);
        return {
          status: 201,
          headers: { Location: `${c.path}/${encodeURIComponent(created.id)}` },
          body: created as never,
        };
      },
    }),
    route({
      ...common,
      method: 'get',
      path: one,
      operationId: `get${c.kind}`,
      summary: `One ${c.noun}`,
      access: c.read,
      request: { path: c.id },
      responses: { 200: { description: `The ${c.noun}`, schema: c.item } },
      errors: [404],
      async handle({ path }) {
        return { status: 200, body: (await c.get(path.id)) as never };
      },
    }),
    route({
      ...common,
      method: 'put',
      path: one,
      operationId: `update${c.kind}`,
      summary: `Replace a ${c.noun}`,
      access: c.manage,
      request: { path: c.id, body: c.body },
      responses: { 200: { description: `The ${c.noun}`, schema: c.item } },
      errors: [404, ...c.conflicts],
      async handle({ path, body }) {
        return { status: 200, body: (await c.replace(path.id, body as z.output<Body>)) as never };
      },
    }),
    route({
      ...common,
      method: 'delete',
      path: one,
      operationId: `delete${c.kind}`,
      summary: `Delete a ${c.noun}`,
      access: c.manage,
      request: { path: c.id },
      responses: { 204: { description: 'Deleted' } },
      errors: [404],
      async handle({ path }) {
        await c.remove(path.id);
        return { status: 204 };
      },
    }),
  ];
}
