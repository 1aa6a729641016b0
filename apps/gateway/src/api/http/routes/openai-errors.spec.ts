import express from 'express';
import request from 'supertest';
import { AionError } from '@aion/errors';
import { openAiErrorMiddleware } from './openai';

/** An app whose OpenAI route fails with `error`, answered by the OpenAI error middleware. */
function failingWith(error: AionError) {
  const app = express();
  app.post('/v1/chat/completions', () => {
    throw error;
  });
  app.use(openAiErrorMiddleware());
  return app;
}

describe('OpenAI-shaped errors', () => {
  it('tells a client when to retry a lost dependency (503) though its thrower chose no wait', async () => {
    const res = await request(
      failingWith(AionError.unavailable('orchestrator is unreachable')),
    ).post('/v1/chat/completions');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.body).toEqual({
      error: expect.objectContaining({ type: 'api_error', code: 'service.unavailable' }),
    });
  });

  it("keeps the thrower's wait, and sends none for a client error", async () => {
    const limited = new AionError('rate_limit.exceeded', 'slow down', { retryAfterSeconds: 7 });
    expect(
      (await request(failingWith(limited)).post('/v1/chat/completions')).headers['retry-after'],
    ).toBe('7');
    const bad = await request(failingWith(AionError.validation('messages is required'))).post(
      '/v1/chat/completions',
    );
    expect(bad.status).toBe(400);
    expect(bad.headers['retry-after']).toBeUndefined();
  });
});
