import { toJson, type JsonObject } from '@bufbuild/protobuf';
import { ValueSchema } from '@bufbuild/protobuf/wkt';
import { Router, type ErrorRequestHandler, type Request, type Response } from 'express';
import * as z from 'zod/v4';
import {
  TaskOrchestrator,
  DataClassification,
  OrchestratorAdminService,
  Priority,
  Privacy,
  StreamEventKind,
  TaskStatus,
  type TaskView,
} from '@aion/contracts';
import { requirePermission } from '@aion/auth';
import { AionError, requestIdOf, specFor, toAionError } from '@aion/errors';
import type { ClientOf } from '@aion/grpc';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import { parse } from './validate';

/** The part of OpenAI's chat-completions request Aion maps onto a `chat` task. */
export const ChatCompletionRequest = z.looseObject({
  model: z.string().min(1).max(200),
  messages: z
    .array(
      z.looseObject({
        role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
        content: z.union([z.string(), z.array(z.unknown()), z.null()]),
      }),
    )
    .min(1)
    .max(1000),
  stream: z.boolean().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).optional(),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  max_tokens: z.int().min(1).max(1_000_000).optional(),
  max_completion_tokens: z.int().min(1).max(1_000_000).optional(),
  stop: z.union([z.string(), z.array(z.string())]).optional(),
  user: z.string().max(256).optional(),
});

const PRIVACY = {
  'local-only': Privacy.LOCAL_ONLY,
  'allow-api': Privacy.ALLOW_API,
  hybrid: Privacy.HYBRID,
} as const;
const CLASSIFICATION = {
  none: DataClassification.NONE,
  pii: DataClassification.PII,
  financial: DataClassification.FINANCIAL,
  health: DataClassification.HEALTH,
  biometric: DataClassification.BIOMETRIC,
} as const;

/** OpenAI's error shape, from Aion's error codes. */
export function openAiError(error: AionError) {
  const status = error.httpStatus;
  const type =
    status === 401
      ? 'authentication_error'
      : status === 403
        ? 'permission_error'
        : status === 404
          ? 'not_found_error'
          : status === 429
            ? 'rate_limit_error'
            : status >= 500
              ? 'api_error'
              : 'invalid_request_error';
  return {
    status,
    body: {
      error: {
        message: error.message,
        type,
        param: error.details?.[0]?.field ?? null,
        code: error.code,
      },
    },
  };
}

/** Errors on the OpenAI-compatible routes leave in OpenAI's shape, so SDKs raise their usual exceptions. */
export function openAiErrorMiddleware(): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (!isOpenAiPath(req.path)) return next(err);
    const error = toAionError(
      err instanceof AionError
        ? err
        : (err as { type?: string }).type === 'entity.parse.failed'
          ? new AionError('validation.malformed_json', 'request body is not valid JSON')
          : err,
    );
    const { status, body } = openAiError(error);
    if (error.retryAfterSeconds !== undefined)
      res.setHeader('Retry-After', String(Math.ceil(error.retryAfterSeconds)));
    res.setHeader('X-Request-ID', requestIdOf(req, res));
    res.status(status).json(body);
  };
}

export const isOpenAiPath = (path: string) =>
  path === '/v1/chat/completions' || path === '/v1/models' || path.startsWith('/v1/models/');

function header(req: Request, name: string): string | undefined {
  const value = req.header(name);
  return value ? value.trim() : undefined;
}

/** /v1/chat/completions and /v1/models, the OpenAI API mapped onto `chat` tasks. */
export function openAiRoutes(deps: {
  tasks: ClientOf<typeof TaskOrchestrator>;
  admin: ClientOf<typeof OrchestratorAdminService>;
  jurisdictions: JurisdictionRegistry;
  defaultJurisdiction: string;
  requestTimeoutMs: number;
}): Router {
  const router = Router();
  const { tasks, admin } = deps;

  router.get('/v1/models', requirePermission('tasks:read'), async (_req, res) => {
    const { engines } = await admin.listEngines(
      { intent: 'chat' },
      { deadlineMs: deps.requestTimeoutMs },
    );
    const ids = engines.flatMap((e) => [
      { id: e.name, owned_by: `aion:${e.tier}` },
      ...e.models.map((m) => ({ id: m, owned_by: `aion:${e.name}` })),
    ]);
    res.json({
      object: 'list',
      data: ids.map((m) => ({ id: m.id, object: 'model', created: 0, owned_by: m.owned_by })),
    });
  });

  router.post('/v1/chat/completions', requirePermission('tasks:submit'), async (req, res) => {
    const body = parse(ChatCompletionRequest, req.body, 'chat completion request');
    // Data context and privacy come as headers: OpenAI clients send them with defaultHeaders.
    const jurisdiction = header(req, 'aion-jurisdiction') ?? deps.defaultJurisdiction;
    if (!deps.jurisdictions.isKnown(jurisdiction))
      throw AionError.validation(`unknown jurisdiction ${JSON.stringify(jurisdiction)}`, [
        { field: 'Aion-Jurisdiction', message: 'must be an ISO 3166-1 alpha-2 or region code' },
      ]);
    const classification = (header(req, 'aion-classification') ??
      'none') as keyof typeof CLASSIFICATION;
    if (!(classification in CLASSIFICATION))
      throw AionError.validation(
        'Aion-Classification must be pii, financial, health, biometric or none',
      );
    const privacy = (header(req, 'aion-privacy') ?? 'hybrid') as keyof typeof PRIVACY;
    if (!(privacy in PRIVACY))
      throw AionError.validation('Aion-Privacy must be local-only, allow-api or hybrid');
    const {
      stream,
      stream_options: streamOptions,
      max_completion_tokens: maxCompletion,
      ...rest
    } = body;
    const params: Record<string, unknown> = { ...rest };
    if (maxCompletion !== undefined && params['max_tokens'] === undefined)
      params['max_tokens'] = maxCompletion;
    const controller = new AbortController();
    res.on('close', () => controller.abort());
    const submitted = await tasks.submit(
      {
        task: {
          schemaVersion: '1.0',
          intent: 'chat',
          params: params as JsonObject,
          priority: Priority.NORMAL,
          sla: { budgetUsd: 0, p95Ms: 0, privacy: PRIVACY[privacy] },
          metadata: { api: 'openai-chat-completions', ...(body.user ? { user: body.user } : {}) },
          dataContext: { jurisdiction, classification: CLASSIFICATION[classification] },
        },
        // Without streaming the orchestrator answers once the task ended: no stream needed.
        waitMs: stream ? 0 : Math.max(1, deps.requestTimeoutMs - 1_000),
      },
      { deadlineMs: deps.requestTimeoutMs, signal: controller.signal },
    );
    const taskId = submitted.result!.taskId;
    res.setHeader('Aion-Task-Id', taskId);
    const id = `chatcmpl-${taskId}`;
    const created = Math.floor(Date.now() / 1000);
    if (stream)
      return streamCompletion(
        res,
        tasks.stream({ taskId }, { deadlineMs: deps.requestTimeoutMs, signal: controller.signal }),
        { id, created, model: body.model, includeUsage: Boolean(streamOptions?.include_usage) },
      );
    const final = submitted.result!;
    if (!TERMINAL_STATUSES.has(final.status))
      throw new AionError('service.timeout', 'the model did not answer in time');
    failIfNotOk(final);
    const output = (final.result ? toJson(ValueSchema, final.result) : {}) as {
      message?: { content?: string };
      finish_reason?: string;
      model?: string;
    };
    res.setHeader('Aion-Route', final.engine?.route ?? '');
    res.json({
      id,
      object: 'chat.completion',
      created,
      model: output.model ?? body.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: output.message?.content ?? '' },
          finish_reason: output.finish_reason ?? 'stop',
          logprobs: null,
        },
      ],
      usage: usageOf(final),
    });
  });
  return router;
}

function usageOf(result: TaskView) {
  const prompt = result.usage?.inputTokens ?? 0;
  const completion = result.usage?.outputTokens ?? 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  };
}

const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set([
  TaskStatus.OK,
  TaskStatus.ERROR,
  TaskStatus.TIMEOUT,
  TaskStatus.CANCELED,
]);

/** A task that did not end OK becomes the HTTP error its code stands for. */
function failIfNotOk(result: TaskView): void {
  if (result.status === TaskStatus.OK) return;
  const code = result.error?.code ?? 'internal.error';
  const known = specFor(code).http !== 500 || code === 'internal.error';
  throw new AionError(
    known ? code : 'service.unavailable',
    result.error?.message ?? 'the task did not complete',
  );
}

async function streamCompletion(
  res: Response,
  events: AsyncIterable<{ kind: StreamEventKind; token: string; result?: TaskView | undefined }>,
  meta: { id: string; created: number; model: string; includeUsage: boolean },
): Promise<void> {
  let started = false;
  const chunk = (
    delta: Record<string, unknown>,
    finishReason: string | null,
    extra: Record<string, unknown> = {},
  ) => ({
    id: meta.id,
    object: 'chat.completion.chunk',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
    ...extra,
  });
  const begin = () => {
    if (started) return;
    started = true;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
    });
    res.write(`data: ${JSON.stringify(chunk({ role: 'assistant', content: '' }, null))}\n\n`);
  };
  for await (const event of events) {
    if (event.kind === StreamEventKind.TOKEN) {
      begin();
      res.write(`data: ${JSON.stringify(chunk({ content: event.token }, null))}\n\n`);
    } else if (event.result) {
      // Before the first byte an error can still be a proper HTTP error; after it, it ends the stream.
      if (!started) failIfNotOk(event.result);
      begin();
      if (event.result.status === TaskStatus.OK) {
        const output = (event.result.result ? toJson(ValueSchema, event.result.result) : {}) as {
          finish_reason?: string;
        };
        res.write(`data: ${JSON.stringify(chunk({}, output.finish_reason ?? 'stop'))}\n\n`);
        if (meta.includeUsage)
          res.write(
            `data: ${JSON.stringify({ ...chunk({}, null), choices: [], usage: usageOf(event.result) })}\n\n`,
          );
      } else {
        const { body } = openAiError(
          new AionError(
            event.result.error?.code ?? 'internal.error',
            event.result.error?.message ?? 'the task failed',
          ),
        );
        res.write(`data: ${JSON.stringify(body)}\n\n`);
      }
    }
  }
  begin();
  res.end('data: [DONE]\n\n');
}
