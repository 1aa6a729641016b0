import * as z from 'zod/v4';
import { honoursIdempotencyKey, type ResponseSpec, type Route } from './route';

type JsonSchema = Record<string, unknown>;

/**
 * Zod -> JSON Schema (draft 2020-12, what OpenAPI 3.1 uses). A schema may carry
 * `.meta({ openapi: {...} })` to say how it looks on the wire when zod cannot tell (query
 * integers arrive as strings but are documented as integers).
 */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const out = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    override: (ctx) => {
      const zod = ctx.zodSchema as unknown as z.ZodType;
      const wire = zod.meta?.()?.['openapi'];
      const target = ctx.jsonSchema as JsonSchema;
      // zod leaves out the default of a wrapped pipe in input mode; the document keeps it.
      if (zod.def.type === 'default' && !('default' in target))
        target['default'] = (zod.def as unknown as { defaultValue: unknown }).defaultValue;
      if (wire && typeof wire === 'object') {
        // Keep what wrappers added to the same object (a default, a description).
        for (const key of Object.keys(target))
          if (!['default', 'description'].includes(key)) delete target[key];
        Object.assign(target, wire);
      } else if (zod.def.type === 'unknown') {
        target['$ref'] = JSON_VALUE;
      } else if (target['type'] === 'object' && target['additionalProperties'] !== false) {
        const names = (target['propertyNames'] ?? {}) as JsonSchema;
        if (!('pattern' in names || 'enum' in names || 'format' in names))
          target['propertyNames'] = { ...names, pattern: NO_NUL };
      } else if (
        target['type'] === 'string' &&
        !('pattern' in target || 'format' in target || 'enum' in target || 'const' in target)
      ) {
        target['pattern'] = NO_NUL;
      }
    },
  }) as JsonSchema;
  delete out['$schema'];
  return out;
}

const ENVELOPE = '#/components/schemas/ErrorEnvelope';
/** Any JSON value whose strings hold no U+0000 (the gateway refuses those: PostgreSQL cannot store them). */
const JSON_VALUE = '#/components/schemas/JsonValue';
const NO_NUL = '^[^\\u0000]*$';
const OPENAI_ERROR = '#/components/schemas/OpenAiError';

const ERROR_TEXT: Record<number, string> = {
  400: 'The request is malformed or invalid; details name every problem',
  401: 'No valid credential',
  403: 'The credential lacks the permission, or a sovereignty rule refuses',
  404: "Not found in the caller's tenant",
  405: 'Method not allowed on this path (see Allow)',
  409: 'Conflicts with the current state (or an Idempotency-Key still in progress)',
  413: 'The body is larger than the limit',
  415: 'The body is not JSON',
  422: 'Well-formed but not processable (or an Idempotency-Key reused with another body)',
  431: 'The request headers are too large',
  429: 'Rate limit exceeded (see Retry-After and RateLimit), or over budget (budget.exceeded)',
  503: 'Overloaded or a dependency is down (see Retry-After)',
  504: 'A dependency did not answer in time',
};

/** Every error a route can answer: what its shape implies plus what it declares. */
export function errorStatuses(route: Route): number[] {
  const statuses = new Set<number>([400, 405, 429, 431, 503, 504, ...(route.errors ?? [])]);
  if (route.access !== 'public') statuses.add(401).add(403);
  if (route.request.body || route.request.stream) statuses.add(413).add(415);
  if (honoursIdempotencyKey(route)) statuses.add(409).add(422);
  return [...statuses].sort((a, b) => a - b);
}

/**
 * One server-sent event as OpenAPI 3.1 describes an event stream (each event an object of its
 * fields), its data JSON checked against the schema of its event name.
 */
function eventSchema(stream: NonNullable<ResponseSpec['eventStream']>): JsonSchema {
  const json = (schema: z.ZodType) => ({
    type: 'string',
    contentMediaType: 'application/json',
    contentSchema: jsonSchema(schema, 'output'),
  });
  return {
    anyOf: Object.entries(stream.events).map(([name, schema]) => ({
      type: 'object',
      required: ['data', ...(name === 'data' ? [] : ['event'])],
      properties: {
        ...(name === 'data' ? {} : { event: { const: name } }),
        id: { type: 'string', pattern: '^[0-9]+$' },
        retry: { type: 'integer' },
        data: stream.end ? { anyOf: [{ const: stream.end }, json(schema)] } : json(schema),
      },
    })),
  };
}

const RETRY_AFTER = {
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } },
};

function parameters(route: Route): JsonSchema[] {
  const list: JsonSchema[] = [];
  const add = (where: 'path' | 'query' | 'header', object: z.ZodObject | undefined) => {
    if (!object) return;
    const schema = jsonSchema(object, 'input') as {
      properties?: Record<string, JsonSchema>;
      required?: string[];
    };
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      const { description, ...rest } = property;
      list.push({
        name,
        in: where,
        required: where === 'path' || (schema.required ?? []).includes(name),
        ...(description ? { description } : {}),
        schema: rest,
      });
    }
  };
  add('path', route.request.path);
  add('query', route.request.query);
  add('header', route.request.headers);
  if (honoursIdempotencyKey(route))
    list.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description: route.submitsTask
        ? 'Repeat-safe POST: the key names one task (its id derives from the key unless the request names one); a repeat gets the first answer, or, when there is none (a 5xx, a lost connection, still running), the same task. Remembered for 24 hours unless the deployment sets otherwise'
        : 'Repeat-safe POST: a repeat gets the first answer below 500 (409 while the first still runs). Remembered for 24 hours unless the deployment sets otherwise',
      schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
    });
  return list;
}

function operation(route: Route): JsonSchema {
  const responses: JsonSchema = {};
  for (const [status, spec] of Object.entries(route.responses)) {
    responses[status] = {
      description: spec.description,
      ...(spec.headers ? { headers: spec.headers } : {}),
      ...(spec.schema || spec.eventStream
        ? {
            content: {
              ...(spec.schema
                ? {
                    [spec.contentType ?? 'application/json']: {
                      schema: jsonSchema(spec.schema, 'output'),
                    },
                  }
                : {}),
              ...(spec.eventStream
                ? { 'text/event-stream': { schema: eventSchema(spec.eventStream) } }
                : {}),
            },
          }
        : {}),
      ...(route.links && Number(status) < 300
        ? {
            links: Object.fromEntries(
              Object.entries(route.links).map(([name, link]) => [name, link]),
            ),
          }
        : {}),
    };
  }
  for (const status of errorStatuses(route))
    responses[String(status)] = {
      description: ERROR_TEXT[status] ?? 'Error',
      ...([429, 503].includes(status) ? { headers: RETRY_AFTER } : {}),
      ...(status === 405
        ? {
            headers: {
              Allow: { description: 'Methods this path serves', schema: { type: 'string' } },
            },
          }
        : {}),
      content: {
        'application/json': { schema: { $ref: route.openAiErrors ? OPENAI_ERROR : ENVELOPE } },
      },
    };
  const body = route.request.body;
  const stream = route.request.stream;
  return {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    ...(route.access === 'public'
      ? { security: [] }
      : { description: `Requires the \`${route.access}\` permission.` }),
    parameters: parameters(route),
    ...(body
      ? {
          requestBody: {
            required: !route.request.bodyOptional,
            content: { 'application/json': { schema: jsonSchema(body, 'input') } },
          },
        }
      : {}),
    ...(stream
      ? {
          requestBody: {
            required: true,
            content: Object.fromEntries(
              stream.contentTypes.map((type) => [
                type,
                { schema: { type: 'string', format: 'binary', minLength: 1 } },
              ]),
            ),
          },
        }
      : {}),
    responses,
  };
}

/** OpenAPI 3.1 for the whole REST surface, produced from the route table. */
export function openApiDocument(routes: readonly Route[], version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) (paths[route.path] ??= {})[route.method] = operation(route);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Aion gateway',
      version,
      description:
        'Sovereign AI control plane: tasks, streams, OpenAI-compatible chat, budgets, keys, sovereignty.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }, { apiKey: [] }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API key or a JWT' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
      schemas: {
        JsonValue: {
          anyOf: [
            { type: 'string', pattern: NO_NUL },
            { type: 'number' },
            { type: 'boolean' },
            { type: 'null' },
            { type: 'array', items: { $ref: JSON_VALUE } },
            {
              type: 'object',
              propertyNames: { pattern: NO_NUL },
              additionalProperties: { $ref: JSON_VALUE },
            },
          ],
        },
        ErrorEnvelope: {
          type: 'object',
          required: ['error_code', 'message', 'request_id'],
          properties: {
            error_code: { type: 'string', examples: ['validation.invalid_argument'] },
            message: { type: 'string' },
            details: {
              type: 'array',
              items: {
                type: 'object',
                required: ['field', 'message'],
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
        OpenAiError: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['message', 'type'],
              properties: {
                message: { type: 'string' },
                type: { type: 'string' },
                param: { type: ['string', 'null'] },
                code: { type: ['string', 'null'] },
              },
            },
          },
        },
      },
    },
    paths,
  };
}
