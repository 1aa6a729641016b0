import type * as z from 'zod/v4';
import { AionError } from '@aion/errors';

type Issue = { field: string; reason: string; message: string };

/**
 * Zod issues as envelope details. A union that failed reports the branch that came closest
 * (fewest problems): for a task whose intent picks the branch, that is the intent's own schema.
 */
function issuesOf(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[] = []): Issue[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const closest = [...issue.errors].sort((a, b) => a.length - b.length)[0]!;
      return issuesOf(closest, path);
    }
    return [
      {
        field: path.map(String).join('.') || '(root)',
        reason: issue.code,
        message: issue.message,
      },
    ];
  });
}

/** Parses untrusted input with a schema; failures become a 400 envelope listing every problem. */
export function parse<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw AionError.validation(`the ${what} is invalid`, issuesOf(result.error.issues));
}
