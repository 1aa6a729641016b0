import { DataClassification, type TaskRequest } from '@aion/contracts';
import { AionError, type ErrorDetail } from '@aion/errors';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import * as z from 'zod/v4';
import { jsonProblem } from '../json-limits';
import { jurisdictionSchema } from '../wire-schemas';
import {
  INTENT_PARAMS,
  TaskId,
  taskRequestSchema,
  type TaskRequestBody,
} from '../tasks/task-schemas';
import { parse } from '../http/validate';

/** Submit's wait_ms at most, as REST's `Prefer: wait=60`. */
export const MAX_WAIT_MS = 60_000;
/** Requests nested deeper than this are refused, as REST bodies are. */
const MAX_JSON_DEPTH = 32;

/** The intents of task-schemas.ts whose parameters have a schema: it types their string values. */

const CLASSIFICATION: Record<number, string | undefined> = {
  [DataClassification.NONE]: 'none',
  [DataClassification.PII]: 'pii',
  [DataClassification.FINANCIAL]: 'financial',
  [DataClassification.HEALTH]: 'health',
  [DataClassification.BIOMETRIC]: 'biometric',
};

const NUMBER = /^\s*-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/** JSON Schema type of each parameter of an intent (first non-null type of a union). */
const typesCache = new Map<z.ZodType, Record<string, string | undefined>>();
function parameterTypes(schema: z.ZodType): Record<string, string | undefined> {
  let types = typesCache.get(schema);
  if (!types) {
    const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
      properties?: Record<string, { type?: string | string[] }>;
    };
    types = Object.fromEntries(
      Object.entries(json.properties ?? {}).map(([name, property]) => [
        name,
        [property.type ?? []].flat().find((t) => t !== 'null'),
      ]),
    );
    typesCache.set(schema, types);
  }
  return types;
}

function typed(value: string, type: string | undefined): unknown {
  if (type === 'integer' || type === 'number') return NUMBER.test(value) ? Number(value) : value;
  if (type === 'boolean') return value === 'true' ? true : value === 'false' ? false : value;
  if (type === 'object' || type === 'array')
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  return value;
}

/**
 * The blueprint's `map<string, string>` params as the values the intent's schema asks for: a
 * decimal string for an integer or number parameter, "true"/"false" for a boolean, JSON text for
 * an object or array; everything else stays a string. A value that does not convert stays as it
 * is, so the schema reports it with every other problem.
 */
export function paramsFromStrings(
  intent: string,
  params: Record<string, string>,
): Record<string, unknown> {
  const schema = INTENT_PARAMS[intent];
  const types = schema ? parameterTypes(schema) : {};
  return Object.fromEntries(
    Object.entries(params).map(([name, value]) => [name, typed(value, types[name])]),
  );
}

const orUndefined = (value: string) => (value === '' ? undefined : value);

/**
 * Checks a public TaskRequest the way REST checks a POST /v1/tasks body (the same schema, every
 * problem listed at once) and answers the validated body. Without data_context the task is
 * unclassified data of the default jurisdiction.
 */
export function taskRequestParser(
  jurisdictions: JurisdictionRegistry,
  defaultJurisdiction: string,
) {
  const schema = taskRequestSchema(jurisdictionSchema(jurisdictions));
  return (request: TaskRequest): TaskRequestBody => {
    const problems: ErrorDetail[] = [];
    let params: unknown = paramsFromStrings(request.intent, request.params);
    if (request.paramsJson !== '') {
      if (Object.keys(request.params).length > 0)
        problems.push({
          field: 'params_json',
          reason: 'conflict',
          message: 'send params or params_json, not both',
        });
      try {
        params = JSON.parse(request.paramsJson) as unknown;
      } catch {
        problems.push({ field: 'params_json', reason: 'invalid_json', message: 'is not JSON' });
      }
    }
    if (request.waitMs > MAX_WAIT_MS)
      problems.push({
        field: 'wait_ms',
        reason: 'too_big',
        message: `at most ${MAX_WAIT_MS} (60 seconds)`,
      });
    const { sla, dataContext } = request;
    const body = {
      schema_version: orUndefined(request.schemaVersion),
      task_id: orUndefined(request.taskId),
      intent: request.intent,
      params,
      preferred_engine: orUndefined(request.preferredEngine),
      priority: orUndefined(request.priority),
      sla: sla && {
        budget_usd: sla.budgetUsd,
        p95_ms: sla.p95Ms,
        privacy: orUndefined(sla.privacy),
      },
      metadata: request.metadata,
      data_context: dataContext
        ? {
            jurisdiction: dataContext.jurisdiction,
            classification: CLASSIFICATION[dataContext.classification],
          }
        : { jurisdiction: defaultJurisdiction, classification: 'none' },
      project_id: orUndefined(request.projectId),
    };
    // What no schema sees (deep nesting, U+0000 that PostgreSQL cannot store), refused as REST does.
    const unsupported = jsonProblem(body, MAX_JSON_DEPTH);
    if (unsupported)
      throw AionError.validation(`the task request ${unsupported}`, [
        ...problems,
        { field: '(request)', reason: 'unsupported_json', message: unsupported },
      ]);
    let parsed: TaskRequestBody | undefined;
    try {
      parsed = parse(schema, body, 'task request');
    } catch (err) {
      if (!(err instanceof AionError) || err.code !== 'validation.invalid_argument') throw err;
      problems.push(...(err.details ?? []));
    }
    if (problems.length || !parsed)
      throw AionError.validation('the task request is invalid', problems);
    return parsed;
  };
}

/** A task id from the wire, checked as REST checks the one in its path. */
export function parseTaskId(taskId: string): string {
  return parse(z.strictObject({ task_id: TaskId }), { task_id: taskId }, 'task id').task_id;
}
