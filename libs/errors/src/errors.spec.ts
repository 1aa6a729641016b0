import express from 'express';
import request from 'supertest';
import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import { AionError, detailsFromIssues, toAionError } from './aion-error';
import { codeForGrpcStatus, registerErrorCode, specFor } from './codes';
import { errorMiddleware, notFoundMiddleware } from './http';
import { ERROR_TRAILER, fromGrpcError, toGrpcStatus } from './grpc';

describe('error codes', () => {
  it.each([
    ['validation.invalid_argument', 400, GrpcStatus.INVALID_ARGUMENT],
    ['validation.unprocessable', 422, GrpcStatus.FAILED_PRECONDITION],
    ['auth.unauthenticated', 401, GrpcStatus.UNAUTHENTICATED],
    ['auth.forbidden', 403, GrpcStatus.PERMISSION_DENIED],
    ['resource.not_found', 404, GrpcStatus.NOT_FOUND],
    ['state.conflict', 409, GrpcStatus.ABORTED],
    ['rate_limit.exceeded', 429, GrpcStatus.RESOURCE_EXHAUSTED],
    ['internal.error', 500, GrpcStatus.INTERNAL],
  ])('%s maps to HTTP %i and gRPC %i', (code, http, grpc) => {
    expect(specFor(code)).toEqual({ http, grpc });
  });

  it('falls back to internal.error for an unknown code', () => {
    expect(specFor('nope.nothing').http).toBe(500);
  });

  it('maps gRPC statuses without an envelope to a generic code', () => {
    expect(codeForGrpcStatus(GrpcStatus.NOT_FOUND)).toBe('resource.not_found');
    expect(codeForGrpcStatus(GrpcStatus.UNKNOWN)).toBe('internal.error');
    expect(codeForGrpcStatus(GrpcStatus.DEADLINE_EXCEEDED)).toBe('service.timeout');
  });

  it('only registers codes in a known family', () => {
    expect(() => registerErrorCode('bogus.thing', { http: 418, grpc: GrpcStatus.UNKNOWN })).toThrow(
      /family/,
    );
    registerErrorCode('sovereign.residency_violation', {
      http: 403,
      grpc: GrpcStatus.PERMISSION_DENIED,
    });
    expect(new AionError('sovereign.residency_violation', 'x').httpStatus).toBe(403);
  });
});

describe('toAionError', () => {
  it('hides the text of unknown errors', () => {
    const err = toAionError(
      new Error('duplicate key value violates unique constraint "users_pkey" password=hunter2'),
    );
    expect(err.code).toBe('internal.error');
    expect(err.message).toBe('an internal error occurred');
    expect(JSON.stringify(err.toEnvelope('r1'))).not.toMatch(/users_pkey|hunter2/);
  });

  it('builds field details from issues', () => {
    expect(
      detailsFromIssues([{ path: ['sla', 'budget_usd'], message: 'too small', code: 'too_small' }]),
    ).toEqual([{ field: 'sla.budget_usd', reason: 'too_small', message: 'too small' }]);
  });
});

describe('gRPC round trip', () => {
  it('rebuilds the exact envelope from the trailer', () => {
    const original = new AionError('validation.unprocessable', 'budget too small', {
      details: [{ field: 'sla.budget_usd', message: 'must be > 0' }],
      retryAfterSeconds: 3,
    });
    const status = toGrpcStatus(original, 'req-1');
    const rebuilt = fromGrpcError({
      code: status.code,
      details: status.details ?? '',
      metadata: status.metadata as Metadata,
    });
    expect(rebuilt.code).toBe('validation.unprocessable');
    expect(rebuilt.httpStatus).toBe(422);
    expect(rebuilt.message).toBe('budget too small');
    expect(rebuilt.details).toEqual([{ field: 'sla.budget_usd', message: 'must be > 0' }]);
    expect(rebuilt.retryAfterSeconds).toBe(3);
  });

  it('maps a status without trailer and never repeats its text', () => {
    const metadata = new Metadata();
    const rebuilt = fromGrpcError({
      code: GrpcStatus.INTERNAL,
      details: 'SELECT * FROM secrets',
      metadata,
    });
    expect(rebuilt.code).toBe('internal.error');
    expect(rebuilt.message).not.toMatch(/SELECT/);
  });

  it('carries a lost dependency across as 503', () => {
    const lost = toAionError(
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    );
    const status = toGrpcStatus(lost, 'req-2');
    expect(status.code).toBe(GrpcStatus.UNAVAILABLE);
    const rebuilt = fromGrpcError({
      code: status.code,
      details: status.details,
      metadata: status.metadata,
    });
    expect(rebuilt.code).toBe('service.unavailable');
    expect(rebuilt.httpStatus).toBe(503);
    expect(rebuilt.message).not.toMatch(/ECONNREFUSED/);
  });

  it('maps UNAVAILABLE without a trailer (a peer that is down) to 503, without a chosen wait', () => {
    const rebuilt = fromGrpcError({
      code: GrpcStatus.UNAVAILABLE,
      details: 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:50051',
      metadata: new Metadata(),
    });
    expect(rebuilt.code).toBe('service.unavailable');
    // Breakers count a 503 without one as the peer being down; clients still get Retry-After.
    expect(rebuilt.retryAfterSeconds).toBeUndefined();
    expect(rebuilt.message).not.toMatch(/ECONNREFUSED/);
  });

  it('treats a corrupt trailer like a missing one', () => {
    const metadata = new Metadata();
    metadata.set(ERROR_TRAILER, Buffer.from([0xff, 0xff, 0xff]));
    expect(fromGrpcError({ code: GrpcStatus.NOT_FOUND, details: '', metadata }).code).toBe(
      'resource.not_found',
    );
  });
});

describe('errorMiddleware', () => {
  const app = express();
  app.use((req, res, next) => {
    res.locals['requestId'] = 'req-42';
    next();
  });
  app.use(express.json({ limit: '1kb' }));
  app.post('/echo', (req, res) => {
    res.json(req.body);
  });
  app.get('/aion', () => {
    throw new AionError('rate_limit.exceeded', 'slow down', { retryAfterSeconds: 7 });
  });
  app.get('/boom', () => {
    throw new Error('connect ECONNREFUSED 10.0.0.5:5432 user=aion password=s3cret');
  });
  app.get('/peer-down', () => {
    throw fromGrpcError({ code: GrpcStatus.UNAVAILABLE, details: '', metadata: new Metadata() });
  });
  app.get('/db-down', () => {
    throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' });
  });
  app.use(notFoundMiddleware());
  app.use(errorMiddleware());

  it('answers a 503 nobody chose a wait for (a peer that is down) with Retry-After too', async () => {
    const res = await request(app).get('/peer-down');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
  });

  it('answers a lost dependency with 503 service.unavailable and Retry-After', async () => {
    const res = await request(app).get('/db-down');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.body).toMatchObject({ error_code: 'service.unavailable', request_id: 'req-42' });
    expect(res.text).not.toMatch(/ECONNREFUSED|10\.0\.0\.5/);
  });

  it('answers an AionError with its envelope, status and Retry-After', async () => {
    const res = await request(app).get('/aion');
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.body).toEqual({
      error_code: 'rate_limit.exceeded',
      message: 'slow down',
      request_id: 'req-42',
    });
  });

  it('answers an unknown error with a generic 500 and no internals', async () => {
    const res = await request(app).get('/boom');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({
      error_code: 'internal.error',
      message: 'an internal error occurred',
      request_id: 'req-42',
    });
    expect(res.text).not.toMatch(/ECONNREFUSED|s3cret|at /);
  });

  it('answers malformed JSON with 400 validation.malformed_json', async () => {
    const res = await request(app)
      .post('/echo')
      .set('content-type', 'application/json')
      .send('{"a":');
    expect(res.status).toBe(400);
    expect(res.body.error_code).toBe('validation.malformed_json');
  });

  it('answers an oversized body with 413', async () => {
    const res = await request(app)
      .post('/echo')
      .send({ big: 'x'.repeat(5000) });
    expect(res.status).toBe(413);
    expect(res.body.error_code).toBe('validation.payload_too_large');
  });

  it('answers unknown routes with 404 resource.not_found', async () => {
    const res = await request(app).get('/missing');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error_code: 'resource.not_found', request_id: 'req-42' });
  });
});
