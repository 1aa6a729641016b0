import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OpenAiBehavior {
  /** The assistant's answer; streamed word by word. */
  reply: string;
  /** Wait before answering (headers included). */
  delayMs: number;
  /** Wait between streamed tokens. */
  tokenDelayMs: number;
  /** Answer the next `times` requests with this status (and Retry-After seconds when given). */
  fail?: { status: number; times: number; retryAfterSeconds?: number; body?: string };
  /** Close the connection after this many tokens. */
  dropAfterTokens?: number;
}

export interface OpenAiTestServer {
  url: string;
  /** The last 1,000 requests received, newest last. */
  requests: { path: string; body: Record<string, unknown>; headers: IncomingMessage['headers'] }[];
  behave(behavior: Partial<OpenAiBehavior>): void;
  close(): Promise<void>;
}

/**
 * A local OpenAI-compatible chat-completions server for tests and benchmarks: streams (SSE
 * chunks in OpenAI's format, usage in the last chunk), delays and fails on demand.
 * A stand-in for third-party model providers, which cannot run on this machine.
 */
export async function startOpenAiTestServer(
  initial: Partial<OpenAiBehavior> = {},
): Promise<OpenAiTestServer> {
  let behavior: OpenAiBehavior = {
    reply: 'Hello from the test model.',
    delayMs: 0,
    tokenDelayMs: 0,
    ...initial,
  };
  const requests: OpenAiTestServer['requests'] = [];
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = (req.url ?? '').split('?')[0]!;
    if (req.method === 'GET' && path.endsWith('/models')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          object: 'list',
          data: [{ id: 'test-model', object: 'model', created: 0, owned_by: 'test' }],
        }),
      );
      return;
    }
    if (req.method !== 'POST' || !path.endsWith('/chat/completions')) {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error' } }));
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { message: 'invalid JSON', type: 'invalid_request_error' } }));
      return;
    }
    requests.push({ path, body, headers: req.headers });
    // Bounded, so a benchmark's hundred thousand requests do not grow the server's memory.
    if (requests.length > 1000) requests.splice(0, requests.length - 1000);
    const b = behavior;
    if (b.delayMs) await sleep(b.delayMs);
    if (b.fail && b.fail.times > 0) {
      b.fail.times -= 1;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (b.fail.retryAfterSeconds !== undefined)
        headers['retry-after'] = String(b.fail.retryAfterSeconds);
      res.writeHead(b.fail.status, headers).end(
        b.fail.body ??
          JSON.stringify({
            error: { message: `failing on purpose (${b.fail.status})`, type: 'server_error' },
          }),
      );
      return;
    }
    const model = String(body['model'] ?? 'test-model');
    const id = `chatcmpl-${Date.now().toString(36)}`;
    const created = Math.floor(Date.now() / 1000);
    const tokens = b.reply.split(/(?<= )/);
    const usage = {
      prompt_tokens: JSON.stringify(body['messages'] ?? '').length >> 2,
      completion_tokens: tokens.length,
      total_tokens: 0,
    };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    if (!body['stream']) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [
            { index: 0, message: { role: 'assistant', content: b.reply }, finish_reason: 'stop' },
          ],
          usage,
        }),
      );
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
    send({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
    });
    for (const [i, token] of tokens.entries()) {
      if (b.dropAfterTokens !== undefined && i >= b.dropAfterTokens) {
        // Let what was written reach the client, then cut the connection mid-stream.
        await sleep(20);
        res.socket?.destroy();
        return;
      }
      if (b.tokenDelayMs) await sleep(b.tokenDelayMs);
      send({
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        choices: [{ index: 0, delta: { content: token }, finish_reason: null }],
      });
    }
    send({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
    });
    const options = body['stream_options'] as { include_usage?: boolean } | undefined;
    if (options?.include_usage)
      send({ id, object: 'chat.completion.chunk', created, model, choices: [], usage });
    res.end('data: [DONE]\n\n');
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    behave: (next) => {
      behavior = { ...behavior, ...next };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
