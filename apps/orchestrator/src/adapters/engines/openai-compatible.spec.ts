import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startOpenAiTestServer, type OpenAiTestServer } from '@aion/testing';

/** A provider stand-in that answers every request with `reply`, byte for byte as it writes. */
async function rawServer(reply: (res: ServerResponse) => void) {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => reply(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
import type { Engine } from '../../core/engines';
import { OpenAiCompatibleExecutor } from './openai-compatible';

let server: OpenAiTestServer;
const engine = (over: Partial<Engine> = {}) =>
  ({
    name: 'test-llm',
    tier: 'cloud-standard',
    kind: 'openai-compatible',
    endpoint: server.url,
    models: ['test-model'],
    intents: ['chat', 'summarize'],
    jurisdiction: 'US',
    region: 'us',
    price_per_1k_tokens: { input: 0.001, output: 0.002 },
    api_key_env: 'TEST_LLM_KEY',
    ...over,
  }) as Engine & { kind: 'openai-compatible' };
const executor = new OpenAiCompatibleExecutor({ TEST_LLM_KEY: 'sk-test' });
const call = (over: Partial<Parameters<OpenAiCompatibleExecutor['execute']>[1]> = {}) => {
  const tokens: string[] = [];
  return {
    tokens,
    call: {
      intent: 'chat',
      params: { messages: [{ role: 'user', content: 'Hi' }] },
      stream: true,
      signal: new AbortController().signal,
      onToken: (t: string) => tokens.push(t),
      onPartial: () => undefined,
      ...over,
    },
  };
};

beforeAll(async () => {
  server = await startOpenAiTestServer({ reply: 'Aion answers in tokens.' });
});

afterAll(async () => {
  await server.close();
});

describe('OpenAiCompatibleExecutor', () => {
  it('streams tokens, reports usage and sends the key and model', async () => {
    const { tokens, call: c } = call();
    const result = await executor.execute(engine(), c);
    expect(tokens.join('')).toBe('Aion answers in tokens.');
    expect(result.output).toEqual({
      message: { role: 'assistant', content: 'Aion answers in tokens.' },
      finish_reason: 'stop',
      model: 'test-model',
    });
    expect(result.outputTokens).toBe(4);
    const last = server.requests.at(-1)!;
    expect(last.headers['authorization']).toBe('Bearer sk-test');
    expect(last.body).toMatchObject({
      model: 'test-model',
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('asks for one JSON completion when nobody streams the task, as the client asked', async () => {
    const { tokens, call: c } = call({ stream: false });
    const result = await executor.execute(engine(), c);
    expect(tokens).toEqual([]);
    expect(result.output).toMatchObject({
      message: { role: 'assistant', content: 'Aion answers in tokens.' },
    });
    expect(result.inputTokens).toBeGreaterThan(0);
    expect(result.outputTokens).toBe(4);
    const last = server.requests.at(-1)!;
    expect(last.body['stream']).toBeUndefined();
    expect(last.body['stream_options']).toBeUndefined();
    expect(last.headers['accept']).toBe('application/json');
  });

  it('reads an event stream however the provider cuts it: split fields and characters, CRLF, comments', async () => {
    const wire =
      ': keep-alive\r\n\r\ndata: {"choices":[{"delta":{"content":"Hel"}}]}\r\n\r\n' +
      'data: {"choices":[{"delta":{"content":"lö"},"finish_reason":"stop"}],\r\n' +
      'data: "usage":{"prompt_tokens":3,"completion_tokens":2}}\r\n\r\ndata: [DONE]\r\n\r\n';
    const raw = await rawServer((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // One byte at a time: no event arrives whole.
      const bytes = Buffer.from(wire);
      let i = 0;
      const next = () => (i < bytes.length ? res.write(bytes.subarray(i, ++i), next) : res.end());
      next();
    });
    const { tokens, call: c } = call();
    const result = await executor.execute(engine({ endpoint: raw.url }), c);
    // "ö" is two bytes, each in a chunk of its own.
    expect(tokens.join('')).toBe('Hellö');
    expect(result).toMatchObject({ inputTokens: 3, outputTokens: 2 });
    expect(result.output).toMatchObject({ finish_reason: 'stop' });
    await raw.close();
  });

  it('fails plainly on an event that is not JSON', async () => {
    const raw = await rawServer((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {"choices": [\n\n');
    });
    await expect(
      executor.execute(engine({ endpoint: raw.url }), call().call),
    ).rejects.toMatchObject({
      code: 'service.unavailable',
      message: 'engine test-llm sent an event that is not JSON',
    });
    await raw.close();
  });

  it('maps summarize onto a chat request', async () => {
    const { call: c } = call({
      intent: 'summarize',
      params: { text: 'Long text.', max_sentences: 2 },
    });
    const result = await executor.execute(engine(), c);
    expect(result.output).toEqual({ summary: 'Aion answers in tokens.', model: 'test-model' });
    expect(JSON.stringify(server.requests.at(-1)!.body['messages'])).toContain(
      'at most 2 sentences',
    );
  });

  it('retries once when the provider asks with Retry-After, then succeeds', async () => {
    server.behave({ fail: { status: 429, times: 1, retryAfterSeconds: 0 } });
    const before = server.requests.length;
    await expect(executor.execute(engine(), call().call)).resolves.toBeTruthy();
    expect(server.requests.length - before).toBe(2);
  });

  it('fails as service.unavailable on 5xx, timeouts and broken streams', async () => {
    server.behave({ fail: { status: 500, times: 1 } });
    await expect(executor.execute(engine(), call().call)).rejects.toMatchObject({
      code: 'service.unavailable',
      message: expect.stringContaining('HTTP 500'),
    });
    server.behave({ delayMs: 300 });
    await expect(executor.execute(engine({ timeout_ms: 50 }), call().call)).rejects.toMatchObject({
      code: 'service.unavailable',
      message: 'engine test-llm timed out',
    });
    server.behave({ delayMs: 0, dropAfterTokens: 1 });
    await expect(executor.execute(engine(), call().call)).rejects.toMatchObject({
      code: 'service.unavailable',
      message: 'engine test-llm broke off its stream',
    });
    server.behave({ dropAfterTokens: undefined });
    await expect(
      executor.execute(engine({ endpoint: 'http://127.0.0.1:1/v1' }), call().call),
    ).rejects.toMatchObject({ message: 'engine test-llm is unreachable' });
  });

  it('refuses models the engine does not serve, a missing key, and 4xx answers', async () => {
    await expect(
      executor.execute(engine(), call({ params: { model: 'gpt-9', messages: [] } }).call),
    ).rejects.toMatchObject({ code: 'validation.invalid_argument' });
    await expect(
      new OpenAiCompatibleExecutor({}).execute(engine(), call().call),
    ).rejects.toMatchObject({ message: expect.stringContaining('TEST_LLM_KEY is not set') });
    server.behave({ fail: { status: 400, times: 1, body: '{"error":{"message":"bad request"}}' } });
    await expect(executor.execute(engine(), call().call)).rejects.toMatchObject({
      code: 'validation.unprocessable',
    });
  });

  describe('a task that declares its output (response_format)', () => {
    const person = {
      type: 'json_schema',
      json_schema: {
        name: 'person',
        schema: {
          type: 'object',
          required: ['name', 'age'],
          properties: { name: { type: 'string' }, age: { type: 'integer', minimum: 0 } },
          additionalProperties: false,
        },
      },
    };
    const asking = (responseFormat: unknown) =>
      call({
        params: { messages: [{ role: 'user', content: 'Who?' }], response_format: responseFormat },
      }).call;
    afterEach(() => server.behave({ reply: 'Aion answers in tokens.' }));

    it('passes it to the provider and returns the answer parsed when it matches', async () => {
      server.behave({ reply: '{"name": "Ada", "age": 36}' });
      const result = await executor.execute(engine(), asking(person));
      expect(result.output).toMatchObject({ parsed: { name: 'Ada', age: 36 } });
      expect(server.requests.at(-1)!.body['response_format']).toEqual(person);
    });

    it('fails the task with the mismatch named when the answer breaks the schema or is not JSON', async () => {
      server.behave({ reply: '{"name": "Ada", "age": -1, "extra": true}' });
      const broken = await executor.execute(engine(), asking(person)).catch((e: unknown) => e);
      expect(broken).toMatchObject({
        code: 'validation.output_schema_mismatch',
        message: 'engine test-llm: the answer does not match the output schema "person"',
      });
      expect((broken as { details: { field: string }[] }).details.map((d) => d.field)).toEqual(
        expect.arrayContaining(['output.age', 'output']),
      );
      server.behave({ reply: 'Ada is 36.' });
      await expect(executor.execute(engine(), asking(person))).rejects.toMatchObject({
        code: 'validation.output_schema_mismatch',
        message: 'engine test-llm: the answer is not JSON',
      });
      server.behave({ reply: '[1, 2]' });
      await expect(
        executor.execute(engine(), asking({ type: 'json_object' })),
      ).rejects.toMatchObject({ message: 'engine test-llm: the answer is not a JSON object' });
    });

    it('refuses a schema that is not one, or an unknown format, before calling any model', async () => {
      const before = server.requests.length;
      await expect(
        executor.execute(
          engine(),
          asking({ type: 'json_schema', json_schema: { name: 'x', schema: { type: 'nonsense' } } }),
        ),
      ).rejects.toMatchObject({ code: 'validation.invalid_argument' });
      await expect(executor.execute(engine(), asking({ type: 'yaml' }))).rejects.toMatchObject({
        code: 'validation.invalid_argument',
      });
      expect(server.requests.length).toBe(before);
    });
  });
});
