import type * as z from 'zod/v4';
import { AionError } from '@aion/errors';

/** Parses untrusted input with a schema; failures become a 400 envelope listing every problem. */
export function parse<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw AionError.validation(
    `the ${what} is invalid`,
    result.error.issues.map((issue) => ({
      field: issue.path.map(String).join('.') || '(root)',
      reason: issue.code,
      message: issue.message,
    })),
  );
}

type Issue = { field: string; reason: string; message: string };

function issuesOf(error: z.ZodError, prefix: string[] = []): Issue[] {
  return error.issues.map((issue) => ({
    field: [...prefix, ...issue.path.map(String)].join('.') || '(root)',
    reason: issue.code,
    message: issue.message,
  }));
}

/**
 * The task request with everything a client can get wrong reported at once: the envelope, the
 * intent's own parameters, and the jurisdiction code.
 */
export function parseTaskRequest<S extends z.ZodType>(
  schema: S,
  body: unknown,
  intentParams: Record<string, z.ZodType>,
  isJurisdiction: (code: string) => boolean,
): z.output<S> {
  const result = schema.safeParse(body);
  const issues: Issue[] = result.success ? [] : issuesOf(result.error);
  const raw = (typeof body === 'object' && body !== null ? body : {}) as {
    intent?: unknown;
    params?: unknown;
    data_context?: { jurisdiction?: unknown };
  };
  const paramsSchema = typeof raw.intent === 'string' ? intentParams[raw.intent] : undefined;
  if (paramsSchema) {
    const params = paramsSchema.safeParse(raw.params ?? {});
    if (!params.success) issues.push(...issuesOf(params.error, ['params']));
  }
  const jurisdiction = raw.data_context?.jurisdiction;
  if (
    typeof jurisdiction === 'string' &&
    jurisdiction.length >= 2 &&
    !isJurisdiction(jurisdiction)
  ) {
    issues.push({
      field: 'data_context.jurisdiction',
      reason: 'unknown_jurisdiction',
      message: `${JSON.stringify(jurisdiction)} is not an ISO 3166-1 alpha-2 or region code`,
    });
  }
  if (issues.length || !result.success)
    throw AionError.validation('the task request is invalid', issues);
  return result.data;
}
