import { Router, type Request, type RequestHandler, type Response } from 'express';
import { can, principalOf, type Principal } from '@aion/auth';
import { AionError } from '@aion/errors';
import { parse } from '../validate';
import type { Method, Route } from './route';

/** Express path syntax for an OpenAPI path: /v1/tasks/{id} -> /v1/tasks/:id. */
export const expressPath = (path: string) => path.replace(/\{(\w+)\}/g, ':$1');

async function run(route: Route, req: Request, res: Response): Promise<void> {
  const { request } = route;
  const controller = new AbortController();
  // Aborts what the handler still does for a client that went away; a finished response has
  // nothing left to stop (and an abort costs a DOMException with its stack).
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  const body =
    request.body === undefined
      ? undefined
      : parse(
          request.body,
          req.body === undefined && request.bodyOptional ? {} : req.body,
          'request body',
        );
  const reply = await route.handle({
    path: request.path ? parse(request.path, req.params, 'path') : undefined,
    query: request.query ? parse(request.query, req.query, 'query') : undefined,
    headers: request.headers ? parse(request.headers, req.headers, 'headers') : undefined,
    body,
    // Only public routes run without a principal, and their handlers do not read it.
    principal: principalOf(res) as Principal,
    req,
    res,
    signal: controller.signal,
  } as Parameters<Route['handle']>[0]);
  if (reply === 'sent') return;
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  res.status(reply.status);
  if (reply.body === undefined) res.end();
  else res.json(reply.body);
}

/**
 * The Express side of the route table: permission first, then every input parsed with the
 * route's own schemas, then the handler; a known path asked with an undeclared method gets 405
 * with Allow instead of falling through to 404.
 */
export function mountRoutes(
  routes: readonly Route[],
  options: { onDenied?: (route: Route, principal: Principal) => void } = {},
): Router {
  const router = Router();
  const methodsByPath = new Map<string, Method[]>();
  /** 401 without a credential, 403 (reported to `onDenied`) without the route's permission. */
  const guard =
    (route: Route): RequestHandler =>
    (_req, res, next) => {
      const principal = principalOf(res);
      if (!principal) return next(AionError.unauthenticated());
      if (route.access !== 'public' && !can(principal.roles, route.access)) {
        options.onDenied?.(route, principal);
        return next(AionError.forbidden(`this requires the ${route.access} permission`));
      }
      next();
    };
  for (const route of routes) {
    const path = expressPath(route.path);
    methodsByPath.set(path, [...(methodsByPath.get(path) ?? []), route.method]);
    const guards = route.access === 'public' ? [] : [guard(route)];
    router[route.method](path, ...guards, (req, res) => run(route, req, res));
  }
  for (const [path, methods] of methodsByPath) {
    const allow = [
      ...new Set(methods.flatMap((m) => (m === 'get' ? ['GET', 'HEAD'] : [m.toUpperCase()]))),
    ];
    router.all(path, (req, res) => {
      res.setHeader('Allow', allow.join(', '));
      throw new AionError(
        'validation.method_not_allowed',
        `${req.method} is not allowed here; use ${allow.join(', ')}`,
      );
    });
  }
  return router;
}
