import { toJson, type JsonObject } from '@bufbuild/protobuf';
import { ValueSchema } from '@bufbuild/protobuf/wkt';
import type { ErrorRequestHandler } from 'express';
import * as z from 'zod/v4';
import { OrchestratorAdminService, Priority, TaskOrchestrator } from '@aion/contracts';
import { AionError, requestIdOf, retryAfterFor, toHttpError } from '@aion/errors';
import type { ClientOf } from '@aion/grpc';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import { CLASSIFICATION_CODE, PRIVACY_CODE } from '../../tasks/task-json';
import { idempotentTaskId } from '../middleware';
import { route, type Route } from '../routing/route';
import { Classification, jurisdictionSchema, Privacy } from '../../wire-schemas';
import { failIfNotOk, streamCompletion, TERMINAL_STATUSES, usageOf } from './openai-stream';
import { openAiError } from './openai-errors';

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

const Usage = z.object({
  prompt_tokens: z.int().min(0),
  completion_tokens: z.int().min(0),
  total_tokens: z.int().min(0),
});
const ChatCompletion = z.object({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.int(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.int(),
      message: z.object({ role: z.literal('assistant'), content: z.string() }),
      finish_reason: z.string(),
      logprobs: z.null(),
    }),
  ),
  usage: Usage,
});
const ChatCompletionChunk = z.object({
  id: z.string(),
  object: z.literal('chat.completion.chunk'),
  created: z.int(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.int(),
      delta: z.object({ role: z.literal('assistant').optional(), content: z.string().optional() }),
      finish_reason: z.string().nullable(),
      logprobs: z.null(),
    }),
  ),
  usage: Usage.optional(),
});
const OpenAiErrorJson = z.object({
  error: z.object({
    message: z.string(),
    type: z.string(),
    param: z.string().nullable(),
    code: z.string().nullable(),
  }),
});
const ModelList = z.object({
  object: z.literal('list'),
  data: z.array(
    z.object({
      id: z.string(),
      object: z.literal('model'),
      created: z.int(),
      owned_by: z.string(),
    }),
  ),
});

export const isOpenAiPath = (path: string) =>
  path === '/v1/chat/completions' || path === '/v1/models' || path.startsWith('/v1/models/');

/** Errors on the OpenAI-compatible routes leave in OpenAI's shape, so SDKs raise their usual exceptions. */
export function openAiErrorMiddleware(): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (!isOpenAiPath(req.path)) return next(err);
    const error = toHttpError(err);
    const { status, body } = openAiError(error);
    const retryAfter = retryAfterFor(error);
    if (retryAfter !== undefined) res.setHeader('Retry-After', String(Math.ceil(retryAfter)));
    res.setHeader('X-Request-ID', requestIdOf(req, res));
    res.status(status).json(body);
  };
}

export interface OpenAiRouteDeps {
  tasks: ClientOf<typeof TaskOrchestrator>;
  admin: ClientOf<typeof OrchestratorAdminService>;
  jurisdictions: JurisdictionRegistry;
  defaultJurisdiction: string;
  requestTimeoutMs: number;
}

const SERVED_MODELS_TTL_MS = 5_000;

/** /v1/chat/completions and /v1/models: the OpenAI API mapped onto `chat` tasks. */
export function openAiRoutes(deps: OpenAiRouteDeps): Route[] {
  const { tasks, admin } = deps;
  // The models chat engines serve, read at most every few seconds (the hot path stays one call).
  let served: { at: number; models: Promise<{ id: string; owned_by: string }[]> } | undefined;
  const servedModels = () => {
    if (!served || Date.now() - served.at > SERVED_MODELS_TTL_MS) {
      const models = admin
        .listEngines({ intent: 'chat' }, { deadlineMs: deps.requestTimeoutMs })
        .then(({ engines }) =>
          engines.flatMap((e) => [
            { id: e.name, owned_by: `aion:${e.tier}` },
            ...e.models.map((m) => ({ id: m, owned_by: `aion:${e.name}` })),
          ]),
        );
      served = { at: Date.now(), models };
      models.catch(() => (served = undefined));
    }
    return served.models;
  };
  const headers = z.object({
    'aion-jurisdiction': jurisdictionSchema(deps.jurisdictions)
      .optional()
      .describe("Where the data comes from (default: the gateway's default jurisdiction)"),
    'aion-classification': Classification.optional().describe('Data classification (default none)'),
    'aion-privacy': Privacy.optional().describe('local-only, allow-api or hybrid (default)'),
  });

  return [
    route({
      method: 'get',
      path: '/v1/models',
      operationId: 'listModels',
      summary: 'Models the chat engines serve (OpenAI-compatible)',
      tag: 'openai',
      access: 'tasks:read',
      openAiErrors: true,
      request: {},
      responses: { 200: { description: 'The model list', schema: ModelList } },
      async handle() {
        const models = await servedModels();
        return {
          status: 200,
          body: {
            object: 'list' as const,
            data: models.map((m) => ({
              id: m.id,
              object: 'model' as const,
              created: 0,
              owned_by: m.owned_by,
            })),
          },
        };
      },
    }),
    route({
      method: 'post',
      path: '/v1/chat/completions',
      operationId: 'createChatCompletion',
      summary: "Chat completion (OpenAI-compatible), run as a `chat` task under Aion's rules",
      tag: 'openai',
      access: 'tasks:submit',
      openAiErrors: true,
      request: { body: ChatCompletionRequest, headers },
      responses: {
        200: {
          description: 'The completion; with stream: true, chat.completion.chunk events',
          schema: ChatCompletion,
          eventStream: {
            events: { data: z.union([ChatCompletionChunk, OpenAiErrorJson]) },
            end: '[DONE]',
          },
        },
      },
      errors: [404, 422],
      submitsTask: true,
      async handle({ body, headers: given, res, signal }) {
        const models = await servedModels();
        if (!models.some((m) => m.id === body.model))
          throw new AionError(
            'resource.model_not_found',
            models.length === 0
              ? 'no allowed engine serves chat: configure an openai-compatible engine'
              : `the model ${JSON.stringify(body.model)} does not exist; GET /v1/models lists those served`,
            { details: [{ field: 'model', reason: 'model_not_found', message: body.model }] },
          );
        const jurisdiction = given['aion-jurisdiction'] ?? deps.defaultJurisdiction;
        const privacy = given['aion-privacy'] ?? 'hybrid';
        const classification = given['aion-classification'] ?? 'none';
        const {
          stream,
          stream_options: streamOptions,
          max_completion_tokens: maxCompletion,
          ...rest
        } = body;
        const params: Record<string, unknown> = { ...rest };
        if (maxCompletion !== undefined && params['max_tokens'] === undefined)
          params['max_tokens'] = maxCompletion;
        const submitted = await tasks.submit(
          {
            task: {
              schemaVersion: '1.0',
              taskId: idempotentTaskId(res, ''),
              intent: 'chat',
              params: params as JsonObject,
              priority: Priority.NORMAL,
              sla: { budgetUsd: 0, p95Ms: 0, privacy: PRIVACY_CODE[privacy] },
              metadata: {
                api: 'openai-chat-completions',
                ...(body.user ? { user: body.user } : {}),
              },
              dataContext: { jurisdiction, classification: CLASSIFICATION_CODE[classification] },
              // Without stream: true the client waits for the whole answer: so does the engine.
              resultOnly: !stream,
            },
            // Without streaming the orchestrator answers once the task ended: no stream needed.
            waitMs: stream ? 0 : Math.max(1, deps.requestTimeoutMs - 1_000),
          },
          { deadlineMs: deps.requestTimeoutMs, signal },
        );
        const taskId = submitted.result!.taskId;
        res.setHeader('Aion-Task-Id', taskId);
        const id = `chatcmpl-${taskId}`;
        const created = Math.floor(Date.now() / 1000);
        if (stream) {
          await streamCompletion(
            res,
            tasks.stream({ taskId }, { deadlineMs: deps.requestTimeoutMs, signal }),
            { id, created, model: body.model, includeUsage: Boolean(streamOptions?.include_usage) },
          );
          return 'sent';
        }
        const final = submitted.result!;
        if (!TERMINAL_STATUSES.has(final.status))
          throw new AionError('service.timeout', 'the model did not answer in time');
        failIfNotOk(final);
        const output = (final.result ? toJson(ValueSchema, final.result) : {}) as {
          message?: { content?: string };
          finish_reason?: string;
          model?: string;
        };
        return {
          status: 200,
          headers: { 'Aion-Route': final.engine?.route ?? '' },
          body: {
            id,
            object: 'chat.completion' as const,
            created,
            model: output.model ?? body.model,
            choices: [
              {
                index: 0,
                message: { role: 'assistant' as const, content: output.message?.content ?? '' },
                finish_reason: output.finish_reason ?? 'stop',
                logprobs: null,
              },
            ],
            usage: usageOf(final),
          },
        };
      },
    }),
  ];
}
