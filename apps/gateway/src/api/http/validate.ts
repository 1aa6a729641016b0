import type * as z from 'zod/v4';
import { AionError } from '@aion/errors';

type Issue = { field: string; reason: string; message: string };

/** Problems with a top-level field: what tells the branches of a union apart. */
const shallow = (issues: readonly z.core.$ZodIssue[]) =>
  issues.filter((issue) => issue.path.length <= 1).length;

/**
 * Zod issues as envelope details. A union that failed reports the branch that got furthest: the
 * one with the fewest problems in top-level fields (for a task, the branch its intent picked,
 * whose params are wrong, rather than the other, which refuses the intent itself), then the one
 * with the fewest problems.
 */
function issuesOf(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[] = []): Issue[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const closest = [...issue.errors].sort(
        (a, b) => shallow(a) - shallow(b) || a.length - b.length,
      )[0]!;
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
  const details = issuesOf(result.error.issues);
  // The message names the first problems too: many clients show only the message.
  const summary = details
    .slice(0, 3)
    .map((d) => `${d.field}: ${d.message}`)
    .join('; ');
  const more = details.length > 3 ? ` (and ${details.length - 3} more)` : '';
  throw AionError.validation(`the ${what} is invalid: ${summary}${more}`, details);
}
