import { ChatCompletionRequest } from './openai-routes';
import { body, errors, idempotencyKey, ok } from './openapi-parts';
import { sovereignPaths } from './sovereign-openapi';
import { CreateUserRequest, LoginRequest, RefreshRequest } from './auth-routes';
import {
  BudgetCommitRequest,
  BudgetLimitRequest,
  BudgetReleaseRequest,
  BudgetReserveRequest,
  CancelRequest,
  CreateApiKeyRequest,
  AgentRoleRequest,
  DeadLetterAction,
  PromptDecisionRequest,
  PromptUpdateRequest,
  TaskRequest,
} from './schemas';

const taskId = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const roleParam = { name: 'role', in: 'path', required: true, schema: { type: 'string' } };
const versionParam = {
  name: 'version',
  in: 'path',
  required: true,
  schema: { type: 'integer', minimum: 1 },
};
const dlqId = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', format: 'uuid' },
};

const promptDecision = (summary: string) => ({
  post: {
    summary,
    parameters: [roleParam, versionParam, idempotencyKey],
    requestBody: { ...body(PromptDecisionRequest), required: false },
    responses: {
      '200': ok('Version'),
      '404': { $ref: '#/components/responses/Error' },
      '409': { $ref: '#/components/responses/Error' },
      ...errors,
    },
  },
});

/** OpenAPI 3.1, generated from the same zod schemas that validate requests. */
export function openApiDocument(version: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Aion gateway',
      version,
      description: 'Sovereign AI control plane: tasks, streams, budgets, keys.',
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
      schemas: {
        ErrorEnvelope: {
          type: 'object',
          required: ['error_code', 'message', 'request_id'],
          properties: {
            error_code: { type: 'string' },
            message: { type: 'string' },
            details: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  field: { type: 'string' },
                  reason: { type: 'string' },
                  message: { type: 'string' },
                },
              },
            },
            request_id: { type: 'string' },
          },
        },
      },
      responses: {
        Error: {
          description: 'Unified error envelope',
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelope' } },
          },
        },
      },
    },
    security: [{ bearer: [] }, { apiKey: [] }],
    paths: {
      ...sovereignPaths(),
      '/v1/tasks': {
        post: {
          summary: 'Submit a task',
          parameters: [
            idempotencyKey,
            { name: 'Prefer', in: 'header', schema: { type: 'string', example: 'wait=10' } },
          ],
          requestBody: body(TaskRequest),
          responses: {
            '200': ok('Finished within Prefer: wait'),
            '202': ok('Accepted'),
            '409': { $ref: '#/components/responses/Error' },
            '422': { $ref: '#/components/responses/Error' },
            ...errors,
          },
        },
        get: {
          summary: 'List your tasks',
          parameters: [
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200 } },
            { name: 'page_token', in: 'query', schema: { type: 'string' } },
            { name: 'status', in: 'query', schema: { type: 'string' } },
          ],
          responses: { '200': ok('A page of tasks'), ...errors },
        },
      },
      '/v1/tasks/{id}': {
        get: {
          summary: 'Canonical task result',
          parameters: [taskId],
          responses: {
            '200': ok('The task'),
            '404': { $ref: '#/components/responses/Error' },
            ...errors,
          },
        },
      },
      '/v1/tasks/{id}/receipt': {
        get: {
          summary:
            'Signed sovereignty receipt of a finished task: {receipt, jws}, a compact JWS (EdDSA) verifiable against /.well-known/aion-receipt-keys',
          parameters: [taskId],
          responses: {
            '200': ok('Receipt and its JWS'),
            '404': { $ref: '#/components/responses/Error' },
            '409': { $ref: '#/components/responses/Error' },
            ...errors,
          },
        },
      },
      '/v1/tasks/{id}/cancel': {
        post: {
          summary: 'Cancel a task',
          parameters: [taskId, idempotencyKey],
          requestBody: { ...body(CancelRequest), required: false },
          responses: {
            '200': ok('Canceled'),
            '409': { $ref: '#/components/responses/Error' },
            ...errors,
          },
        },
      },
      '/v1/stream/{id}': {
        get: {
          summary: 'Server-sent events: token, partial, done, error',
          parameters: [taskId, { name: 'Last-Event-ID', in: 'header', schema: { type: 'string' } }],
          responses: {
            '200': {
              description: 'text/event-stream',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            },
            ...errors,
          },
        },
      },
      '/v1/chat/completions': {
        post: {
          summary: 'OpenAI-compatible chat completions (stream and non-stream), run as a chat task',
          parameters: [
            { name: 'Aion-Jurisdiction', in: 'header', schema: { type: 'string' } },
            {
              name: 'Aion-Classification',
              in: 'header',
              schema: { type: 'string', enum: ['pii', 'financial', 'health', 'biometric', 'none'] },
            },
            {
              name: 'Aion-Privacy',
              in: 'header',
              schema: { type: 'string', enum: ['local-only', 'allow-api', 'hybrid'] },
            },
          ],
          requestBody: body(ChatCompletionRequest),
          responses: {
            '200': ok('chat.completion, or chat.completion.chunk events when stream is true'),
            ...errors,
          },
        },
      },
      '/v1/models': {
        get: {
          summary: 'Engines and models that serve chat',
          responses: { '200': ok('OpenAI model list'), ...errors },
        },
      },
      '/api/v1/auth/login': {
        post: {
          summary: 'Log in with a password; returns an access token and a rotating refresh token',
          security: [],
          requestBody: body(LoginRequest),
          responses: {
            '200': ok('Token pair'),
            '401': { $ref: '#/components/responses/Error' },
            '403': { $ref: '#/components/responses/Error' },
          },
        },
      },
      '/api/v1/auth/refresh': {
        post: {
          summary: 'Exchange a refresh token (once) for a new token pair',
          security: [],
          requestBody: body(RefreshRequest),
          responses: { '200': ok('Token pair'), '401': { $ref: '#/components/responses/Error' } },
        },
      },
      '/api/v1/auth/users': {
        post: {
          summary: 'Create a password user in your tenant',
          requestBody: body(CreateUserRequest),
          responses: {
            '201': ok('The user'),
            '409': { $ref: '#/components/responses/Error' },
            ...errors,
          },
        },
      },
      '/api/v1/auth/keys': {
        post: {
          summary: 'Create an API key (shown once)',
          parameters: [idempotencyKey],
          requestBody: body(CreateApiKeyRequest),
          responses: { '201': ok('The key'), ...errors },
        },
        get: {
          summary: 'List API keys',
          responses: { '200': ok('Keys without secrets'), ...errors },
        },
      },
      '/api/v1/auth/keys/{id}/revoke': {
        post: {
          summary: 'Revoke an API key',
          parameters: [{ ...taskId }, idempotencyKey],
          responses: {
            '204': { description: 'Revoked' },
            '404': { $ref: '#/components/responses/Error' },
            ...errors,
          },
        },
      },
      '/api/v1/budget/request': {
        post: {
          summary: 'Reserve budget',
          parameters: [idempotencyKey],
          requestBody: body(BudgetReserveRequest),
          responses: {
            '200': ok('Reservation'),
            '402': { $ref: '#/components/responses/Error' },
            ...errors,
          },
        },
      },
      '/api/v1/budget/commit': {
        post: {
          summary: 'Commit actual usage',
          parameters: [idempotencyKey],
          requestBody: body(BudgetCommitRequest),
          responses: {
            '200': ok('Reservation'),
            '404': { $ref: '#/components/responses/Error' },
            '409': { $ref: '#/components/responses/Error' },
            ...errors,
          },
        },
      },
      '/api/v1/budget/release': {
        post: {
          summary: 'Release a reservation',
          parameters: [idempotencyKey],
          requestBody: body(BudgetReleaseRequest),
          responses: {
            '200': ok('Reservation'),
            '404': { $ref: '#/components/responses/Error' },
            '409': { $ref: '#/components/responses/Error' },
            ...errors,
          },
        },
      },
      '/api/v1/budget/state': {
        get: {
          summary: 'Budget state',
          parameters: [{ name: 'project_id', in: 'query', schema: { type: 'string' } }],
          responses: { '200': ok('State'), ...errors },
        },
      },
      '/api/v1/budget/limits': {
        put: {
          summary: 'Set a budget limit',
          requestBody: body(BudgetLimitRequest),
          responses: { '200': ok('State'), ...errors },
        },
      },
      '/api/v1/circuit-breakers': {
        get: {
          summary: 'Engine circuit breakers',
          responses: { '200': ok('Breakers'), ...errors },
        },
      },
      '/api/v1/circuit-breakers/reset_all': {
        post: {
          summary: 'Reset every breaker',
          parameters: [idempotencyKey],
          responses: { '200': ok('Names reset'), ...errors },
        },
      },
      '/api/v1/governance/status': {
        get: {
          summary: "Every agent role with its learning limits and today's usage",
          responses: { '200': ok('Roles'), ...errors },
        },
      },
      '/api/v1/governance/roles/{role}': {
        put: {
          summary: 'Create or change an agent role and its limits on automatic prompt updates',
          parameters: [roleParam],
          requestBody: body(AgentRoleRequest),
          responses: { '200': ok('Role'), ...errors },
        },
      },
      '/api/v1/governance/roles/{role}/prompts': {
        get: {
          summary: 'Prompt versions of a role, oldest first',
          parameters: [roleParam],
          responses: {
            '200': ok('Versions'),
            '404': { $ref: '#/components/responses/Error' },
            ...errors,
          },
        },
        post: {
          summary:
            'Propose a prompt version: automatic ones count against the daily limit and cooldown (429 beyond them) and may need approval',
          parameters: [roleParam, idempotencyKey],
          requestBody: body(PromptUpdateRequest),
          responses: {
            '201': ok('Version (active or pending_approval)'),
            '404': { $ref: '#/components/responses/Error' },
            ...errors,
          },
        },
      },
      '/api/v1/governance/roles/{role}/prompts/{version}/approve': promptDecision(
        'Approve a pending version (not by its proposer); it becomes active',
      ),
      '/api/v1/governance/roles/{role}/prompts/{version}/reject': promptDecision(
        'Reject a pending version',
      ),
      '/api/v1/dlq': {
        get: {
          summary: 'Dead-letter queue: tasks and messages that exhausted their retries',
          parameters: [
            { name: 'resolved', in: 'query', schema: { type: 'string', enum: ['true', 'false'] } },
            { name: 'source', in: 'query', schema: { type: 'string', enum: ['task', 'message'] } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200 } },
            { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0 } },
          ],
          responses: { '200': ok('Entries, newest first'), ...errors },
        },
      },
      '/api/v1/dlq/{id}': {
        get: {
          summary: 'One dead-letter entry',
          parameters: [dlqId],
          responses: {
            '200': ok('Entry'),
            '404': { $ref: '#/components/responses/Error' },
            ...errors,
          },
        },
      },
      '/api/v1/dlq/{id}/resolve': {
        post: {
          summary: 'Mark an entry handled without running it again',
          parameters: [dlqId, idempotencyKey],
          requestBody: { ...body(DeadLetterAction), required: false },
          responses: {
            '200': ok('Entry'),
            '404': { $ref: '#/components/responses/Error' },
            '409': { $ref: '#/components/responses/Error' },
            ...errors,
          },
        },
      },
      '/api/v1/dlq/{id}/replay': {
        post: {
          summary: 'Run a task again as a new task, or republish a message; resolves the entry',
          parameters: [dlqId, idempotencyKey],
          requestBody: { ...body(DeadLetterAction), required: false },
          responses: {
            '200': ok('Entry, with replay_ref'),
            '404': { $ref: '#/components/responses/Error' },
            '409': { $ref: '#/components/responses/Error' },
            ...errors,
          },
        },
      },
    },
  };
}
