import { createParser } from 'eventsource-parser';
import { Agent, request, type Dispatcher } from 'undici';
import { AionError } from '@aion/errors';
import { parseRetryAfter, retryPolicy } from '@aion/resilience';
import type { Engine } from '../../core/engines';
import type { EngineCall, EngineOutput } from '../../core/ports';
import { estimateTokens } from '../../core/tokens';
import { OutputValidator, outputContractOf } from './output-schema';

type OpenAiEngine = Engine & { kind: 'openai-compatible' };
type Message = { role: string; content: string };
type Answer = {
  content: string;
  finishReason: string | null;
  inputTokens: number;
  outputTokens: number;
};

const PASSTHROUGH = [
  'temperature',
  'top_p',
  'max_tokens',
  'stop',
  'presence_penalty',
  'frequency_penalty',
  'seed',
  'user',
  'response_format',
] as const;
const MAX_RETRY_AFTER_MS = 10_000;

/**
 * One more try when the provider is overloaded (429, 503) and says how long to wait, if that is
 * short; otherwise the failure goes to the router's fallback at once.
 */
const overloadRetry = retryPolicy({
  maxAttempts: 1,
  maxDelayMs: MAX_RETRY_AFTER_MS,
  retryable: (err) =>
    err instanceof AionError &&
    err.retryAfterSeconds !== undefined &&
    err.retryAfterSeconds * 1000 <= MAX_RETRY_AFTER_MS,
});

/** A response header's first value. */
function header(response: Dispatcher.ResponseData, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Builds the chat request an intent needs; chat passes its messages through. */
function messagesFor(intent: string, params: Record<string, unknown>): Message[] {
  if (Array.isArray(params['messages'])) return params['messages'] as Message[];
  if (intent === 'summarize' && typeof params['text'] === 'string') {
    const n = Number(params['max_sentences'] ?? 3);
    return [
      {
        role: 'system',
        content: `Summarize the user's text faithfully in at most ${n} sentences. Answer with the summary only.`,
      },
      { role: 'user', content: params['text'] },
    ];
  }
  throw new AionError(
    'validation.invalid_argument',
    `intent ${intent} needs params.messages for an OpenAI-compatible engine`,
  );
}

function shapeOutput(
  intent: string,
  content: string,
  model: string,
  finishReason: string | null,
  parsed?: unknown,
): unknown {
  if (intent === 'summarize') return { summary: content, model };
  return {
    message: { role: 'assistant', content },
    finish_reason: finishReason ?? 'stop',
    model,
    // The answer as JSON, checked against the task's response_format, when it asked for one.
    ...(parsed !== undefined ? { parsed } : {}),
  };
}

/**
 * OpenAI-compatible chat completions (OpenAI, Azure OpenAI, vLLM, Ollama and TGI differ only in
 * endpoint, key and model names): streamed, with a per-engine timeout and one retry when the
 * provider asks for it with Retry-After.
 */
export class OpenAiCompatibleExecutor {
  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    // undici's request rather than fetch: the same keep-alive pool at about half the CPU per
    // call (no WHATWG streams), which counts when every chat completion passes through here.
    private readonly dispatcher: Dispatcher = new Agent({ keepAliveTimeout: 30_000 }),
    private readonly outputs = new OutputValidator(),
  ) {}

  async execute(engine: OpenAiEngine, call: EngineCall): Promise<EngineOutput> {
    // A model may be asked for by one of the engine's model ids or by the engine's own name.
    const asked = typeof call.params['model'] === 'string' ? call.params['model'] : undefined;
    const requested = asked === engine.name ? undefined : asked;
    if (requested && !engine.models.includes(requested))
      throw new AionError(
        'validation.invalid_argument',
        `engine ${engine.name} does not serve model ${requested}; it serves ${engine.models.join(', ')}`,
      );
    const model = requested ?? engine.models[0]!;
    const messages = messagesFor(call.intent, call.params);
    const contract = outputContractOf(call.params);
    if (contract) this.outputs.prepare(contract);
    // As the client asked: streamed upstream only when someone streams the task.
    const body: Record<string, unknown> = call.stream
      ? { model, messages, stream: true, stream_options: { include_usage: true } }
      : { model, messages };
    for (const key of PASSTHROUGH) if (call.params[key] !== undefined) body[key] = call.params[key];
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: call.stream ? 'text/event-stream' : 'application/json',
    };
    const key = engine.api_key_env ? this.env[engine.api_key_env] : undefined;
    if (engine.api_key_env && !key)
      throw new AionError(
        'service.unavailable',
        `engine ${engine.name} has no API key (${engine.api_key_env} is not set)`,
      );
    if (key) headers['authorization'] = `Bearer ${key}`;

    const attempt = async (): Promise<EngineOutput> => {
      const signal = AbortSignal.any([
        call.signal,
        AbortSignal.timeout(engine.timeout_ms ?? 30_000),
      ]);
      let response: Dispatcher.ResponseData;
      try {
        response = await request(`${engine.endpoint.replace(/\/$/, '')}/chat/completions`, {
          method: 'POST',
          headers,
          body: JSON.stringify(body),
          signal,
          dispatcher: this.dispatcher,
        });
      } catch (err) {
        if (call.signal.aborted) throw err;
        throw new AionError(
          'service.unavailable',
          signal.aborted
            ? `engine ${engine.name} timed out`
            : `engine ${engine.name} is unreachable`,
          { cause: err },
        );
      }
      const status = response.statusCode;
      if (status === 429 || status === 503) {
        const waitMs = parseRetryAfter(header(response, 'retry-after'));
        await response.body.dump().catch(() => undefined);
        throw new AionError(
          'service.unavailable',
          `engine ${engine.name} is overloaded (HTTP ${status})`,
          waitMs !== undefined ? { retryAfterSeconds: Math.ceil(waitMs / 1000) } : {},
        );
      }
      if (status < 200 || status >= 300) {
        const text = (await response.body.text().catch(() => '')).slice(0, 300);
        const code = status >= 500 ? 'service.unavailable' : 'validation.unprocessable';
        throw new AionError(
          code,
          `engine ${engine.name} answered HTTP ${status}${text ? `: ${text}` : ''}`,
        );
      }
      const answer = await this.readStream(engine, call, response, messages, signal);
      const parsed = contract
        ? this.outputs.check(contract, answer.content, engine.name)
        : undefined;
      return {
        output: shapeOutput(call.intent, answer.content, model, answer.finishReason, parsed),
        inputTokens: answer.inputTokens,
        outputTokens: answer.outputTokens,
        model,
      };
    };
    return overloadRetry.execute(attempt, call.signal);
  }

  /** The model's whole answer, from its event stream (or one JSON completion). */
  private async readStream(
    engine: OpenAiEngine,
    call: EngineCall,
    response: Dispatcher.ResponseData,
    messages: Message[],
    signal: AbortSignal,
  ): Promise<Answer> {
    if (!(header(response, 'content-type') ?? '').includes('text/event-stream')) {
      // Not streamed (as asked, or a server that ignores stream: true): one JSON completion.
      const json = (await response.body.json()) as {
        choices?: { message?: { content?: string }; finish_reason?: string }[];
        usage?: { prompt_tokens?: number; completion_tokens?: number };
      };
      const content = json.choices?.[0]?.message?.content ?? '';
      return {
        content,
        finishReason: json.choices?.[0]?.finish_reason ?? null,
        inputTokens: json.usage?.prompt_tokens ?? estimateTokens(messages),
        outputTokens: json.usage?.completion_tokens ?? estimateTokens(content),
      };
    }
    // Decoded as a stream: a character split between two chunks arrives whole.
    const decoder = new TextDecoder();
    let content = '';
    let finishReason: string | null = null;
    let usage: { prompt_tokens?: number; completion_tokens?: number } | undefined;
    let malformed: unknown;
    // A maintained SSE parser: fields split across chunks, CRLF, comments and multi-line data.
    const parser = createParser({
      onEvent: ({ data }) => {
        if (data === '[DONE]' || malformed) return;
        let event: {
          choices?: { delta?: { content?: string }; finish_reason?: string | null }[];
          usage?: typeof usage;
        };
        try {
          event = JSON.parse(data) as typeof event;
        } catch (err) {
          malformed = err;
          return;
        }
        const token = event.choices?.[0]?.delta?.content;
        if (token) {
          content += token;
          call.onToken(token);
        }
        finishReason = event.choices?.[0]?.finish_reason ?? finishReason;
        if (event.usage) usage = event.usage;
      },
    });
    try {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        if (malformed) throw malformed;
      }
    } catch (err) {
      if (call.signal.aborted) throw err;
      throw new AionError(
        'service.unavailable',
        signal.aborted
          ? `engine ${engine.name} timed out while streaming`
          : malformed
            ? `engine ${engine.name} sent an event that is not JSON`
            : `engine ${engine.name} broke off its stream`,
        { cause: err },
      );
    }
    return {
      content,
      finishReason,
      inputTokens: usage?.prompt_tokens ?? estimateTokens(messages),
      outputTokens: usage?.completion_tokens ?? estimateTokens(content),
    };
  }
}
