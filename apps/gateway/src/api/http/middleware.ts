import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { principalOf } from '@aion/auth';
import { AionError } from '@aion/errors';
import type { BucketLimit, TokenBucketStore } from '@aion/resilience';
import {
  idempotencyScope,
  repeatOf,
  requestHash,
  type IdempotencyStore,
} from '../../core/idempotency';
import type { Capacity } from '../capacity';
import { clientIp } from '../client-ip';
import { jsonProblem } from '../json-limits';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** X-Request-ID: accepted when well-formed, generated otherwise, always returned. */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const given = req.header('x-request-id');
    const id = given && REQUEST_ID.test(given) ? given : randomUUID();
    res.locals['requestId'] = id;
    res.setHeader('X-Request-ID', id);
    next();
  };
}

/** Public requests may not smuggle in the headers services trust only from each other. */
export function stripInternalHeaders(): RequestHandler {
  return (req, _res, next) => {
    for (const header of Object.keys(req.headers))
      if (header.startsWith('x-aion-')) delete req.headers[header];
    next();
  };
}

const SLOTS = 'requestSlots';

function holdSlot(res: Response, release: () => void): void {
  ((res.locals[SLOTS] ??= []) as (() => void)[]).push(release);
}

/**
 * Gives back the request slots a response holds, for a response that turns into a long-lived
 * stream: streams count against the stream capacity instead, so they cannot starve requests.
 */
export function releaseRequestSlots(res: Response): void {
  for (const release of (res.locals[SLOTS] ?? []) as (() => void)[]) release();
  res.locals[SLOTS] = [];
}

/** A bound on requests in flight per instance; beyond it 503 with Retry-After instead of queueing. */
export function backpressure(maxInFlight: number): RequestHandler & { inFlight: () => number } {
  let inFlight = 0;
  const handler = ((req: Request, res: Response, next: NextFunction) => {
    if (inFlight >= maxInFlight)
      return next(
        new AionError('service.unavailable', 'the gateway is at capacity; retry shortly', {
          retryAfterSeconds: 1,
        }),
      );
    inFlight++;
    let released = false;
    const release = () => {
      if (!released) inFlight--;
      released = true;
    };
    res.on('finish', release);
    res.on('close', release);
    holdSlot(res, release);
    next();
  }) as RequestHandler & { inFlight: () => number };
  handler.inFlight = () => inFlight;
  return handler;
}

export interface RateLimits {
  perKey: BucketLimit;
  perIp: BucketLimit;
}

/**
 * Token buckets per client IP and, once authenticated, per API key (or user), taken together in
 * one step (one Redis call): a request pays both or neither. Public routes pay the IP's bucket
 * only and never look at credentials; a request whose credential fails still pays its IP's, so
 * guessing keys is limited too. 429 carries Retry-After and the RateLimit / RateLimit-Policy
 * headers of the IETF draft, one item per bucket.
 */
export function rateLimits(
  store: TokenBucketStore,
  limits: RateLimits,
  options: { authenticate: RequestHandler; isPublic: (req: Request) => boolean },
): RequestHandler {
  const policy = (name: string, limit: BucketLimit) =>
    `"${name}";q=${Math.round(limit.refillPerSecond * 60)};w=60;burst=${limit.capacity}`;
  const ipPolicy = policy('per-ip', limits.perIp);
  const bothPolicies = `${ipPolicy}, ${policy('per-key', limits.perKey)}`;
  const limit = (req: Request, res: Response, next: NextFunction, authError?: unknown) => {
    const principal = authError ? undefined : principalOf(res);
    const takes = [{ key: `ip:${clientIp(req.ip)}`, limit: limits.perIp }];
    if (principal)
      takes.push({
        key: `principal:${principal.tenantId}:${principal.keyId ?? principal.subject}`,
        limit: limits.perKey,
      });
    store.takeAll(takes).then(({ allowed, results }) => {
      const names = ['per-ip', 'per-key'];
      res.setHeader('RateLimit-Policy', principal ? bothPolicies : ipPolicy);
      res.setHeader(
        'RateLimit',
        results
          .map((r, i) => `"${names[i]}";r=${r.remaining};t=${Math.ceil(r.resetMs / 1000)}`)
          .join(', '),
      );
      if (allowed) return next(authError);
      const waitMs = Math.max(...results.map((r) => r.retryAfterMs));
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      next(
        new AionError('rate_limit.exceeded', `rate limit exceeded; retry in ${seconds} s`, {
          retryAfterSeconds: seconds,
        }),
      );
    }, next);
  };
  return (req, res, next) => {
    if (options.isPublic(req)) return limit(req, res, next);
    options.authenticate(req, res, (authError?: unknown) => limit(req, res, next, authError));
  };
}

export interface IdempotencyOptions {
  /** How long a key's record answers repeats. */
  ttlMs: number;
  /** How long a first request holds its key unless it ends sooner (a gateway that died mid-way). */
  leaseMs: number;
  /** POST paths that submit a task (`Route.submitsTask`): they run with the key's task id. */
  taskPaths: ReadonlySet<string>;
  /**
   * POST paths (lower case) whose body is streamed, not parsed: no hash to compare before it is
   * read, so the route hands the key to its service, which compares the content it received.
   */
  streamedPaths?: ReadonlySet<string>;
  /** Told when a record could not be written (the answer still goes out), or an answer not sent. */
  onStoreError?: (err: unknown) => void;
}

const TASK_ID = 'idempotentTaskId';

/**
 * The id a task route submits with: the one the request named, else the one its Idempotency-Key
 * derives (empty without a key: the orchestrator then picks one). Remembered for the key's record.
 */
export function idempotentTaskId(res: Response, given: string): string {
  const slot = res.locals[TASK_ID] as { derived: string; used?: string } | undefined;
  if (!slot) return given;
  slot.used = given || slot.derived;
  return slot.used;
}

/** Headers a replay repeats with the stored body. */
const REPLAYED_HEADERS = ['location', 'content-location', 'aion-task-id'];

/**
 * Idempotency-Key on POST routes, recorded in PostgreSQL (core/idempotency.ts has the rules): the
 * first answer below 500 is kept per tenant, principal and route for the TTL and repeats get it
 * back; the same key with another payload is 422. A task route submits with the key's derived
 * task id, so a repeat of one that has no stored answer (it failed with a 5xx, the gateway died,
 * or it is still running) simply submits again and finds the same task; any other route answers
 * 409 while the first runs and forgets a key whose request failed.
 */
export function idempotency(store: IdempotencyStore, options: IdempotencyOptions): RequestHandler {
  const { ttlMs, leaseMs } = options;
  const taskPaths = new Set([...options.taskPaths].map((p) => p.toLowerCase()));
  const logged = (err: unknown) => options.onStoreError?.(err);
  return (req, res, next) => {
    const key = req.header('idempotency-key');
    if (req.method !== 'POST' || key === undefined) return next();
    if (!/^[\x21-\x7e]{1,255}$/.test(key))
      return next(AionError.validation('Idempotency-Key must be 1-255 visible ASCII characters'));
    const principal = principalOf(res);
    if (!principal) return next();
    // As Express matches routes: without a trailing slash, and (static paths) in any case.
    const path = req.originalUrl.split('?')[0]!.replace(/(.)\/+$/, '$1');
    if (options.streamedPaths?.has(path.toLowerCase())) return next();
    const submitsTask = taskPaths.has(path.toLowerCase());
    // A task route's path is static: one spelling, so one record and one derived task id.
    const scope = idempotencyScope(
      principal.tenantId,
      principal.subject,
      req.method,
      submitsTask ? path.toLowerCase() : path,
      key,
    );
    const hash = requestHash(req.body);
    const run = () => {
      const slot: { derived: string; used?: string } = { derived: scope.taskId };
      if (submitsTask) res.locals[TASK_ID] = slot;
      let stored = false;
      const json = res.json.bind(res);
      res.json = (body: unknown) => {
        // Server failures are not stored: the client retries them with the same key.
        if (res.statusCode >= 500) return json(body);
        stored = true;
        const headers: Record<string, string> = {};
        for (const name of REPLAYED_HEADERS) {
          const value = res.getHeader(name);
          if (typeof value === 'string') headers[name] = value;
        }
        // Recorded before the answer leaves, so a repeat the client sends after it replays it.
        void store
          .complete(scope, { status: res.statusCode, body, headers }, slot.used)
          .catch(logged)
          .then(() => json(body))
          .catch((err: unknown) => {
            // Sent late, so nobody up the stack would see this: end the response here.
            logged(err);
            if (!res.headersSent) res.status(500);
            res.end();
          });
        return res;
      };
      // No stored answer (a 5xx, an event stream, no JSON body, the client left): a task route's
      // task may exist, so its record stays and repeats submit it again; others start afresh.
      res.on('close', () => {
        if (stored) return;
        (submitsTask ? store.release(scope, slot.used) : store.forget(scope)).catch(logged);
      });
      next();
    };
    const answer = async () => {
      const existing = await store.claim(scope, hash, ttlMs, leaseMs);
      if (!existing) return run();
      switch (repeatOf(existing, hash, submitsTask)) {
        case 'reused':
          return next(
            new AionError(
              'validation.idempotency_key_reused',
              'this Idempotency-Key was used with a different request',
            ),
          );
        case 'replay': {
          const response = existing.response!;
          res.setHeader('Idempotent-Replayed', 'true');
          for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
          res.status(response.status);
          return void (response.body === undefined ? res.end() : res.json(response.body));
        }
        case 'resubmit':
          return run();
        case 'retake':
          if (await store.retake(scope, leaseMs)) return run();
          break;
        case 'in_progress':
          break;
      }
      next(AionError.conflict('a request with this Idempotency-Key is still being processed'));
    };
    answer().catch(next);
  };
}

/** Refuses bodies and queries `jsonProblem` finds fault with (400) before schemas or hashing walk them. */
export function jsonLimits(maxDepth: number): RequestHandler {
  return (req, _res, next) => {
    for (const [what, value] of [
      ['body', req.body],
      ['query', req.query],
    ] as const) {
      const problem = value === undefined ? undefined : jsonProblem(value, maxDepth);
      if (problem)
        return next(
          AionError.validation(`the request ${what} ${problem}`, [
            { field: what, reason: 'unsupported_json', message: problem },
          ]),
        );
    }
    next();
  };
}

/**
 * Fair shares of the in-flight bound, once the caller is known: one tenant, and one key of it,
 * may hold only part of the instance's request slots (429 past their share, with Retry-After).
 */
export function fairShare(requests: Capacity): RequestHandler {
  return (_req, res, next) => {
    const principal = principalOf(res);
    if (!principal) return next();
    let release: () => void;
    try {
      release = requests.take(principal, 'requests');
    } catch (err) {
      return next(err);
    }
    res.on('finish', release);
    res.on('close', release);
    holdSlot(res, release);
    next();
  };
}
