import { parser } from '@prometheus-io/lezer-promql';
import { AionError } from '@aion/errors';
import { promqlProblems } from './promql';
import { TENANT_LABEL } from './alerts';

/**
 * The query with `tenant_id="<tenant>"` added to every series selector, whatever the query says:
 * a matcher it names itself can only narrow further (matchers are ANDed), so no selector can reach
 * another tenant's series. Positions come from Prometheus's grammar, never from text search.
 */
export function scopeToTenant(query: string, tenantId: string): string {
  const problems = promqlProblems(query);
  if (problems.length)
    throw AionError.validation(
      `the query is not PromQL: ${problems.join('; ')}`,
      problems.map((message) => ({ field: 'query', message })),
    );
  const matcher = `${TENANT_LABEL}=${JSON.stringify(tenantId)}`;
  const inserts: { at: number; text: string }[] = [];
  parser.parse(query).iterate({
    enter: (node) => {
      if (node.name !== 'VectorSelector') return undefined;
      const braces = node.node.getChild('LabelMatchers');
      if (!braces) inserts.push({ at: node.to, text: `{${matcher}}` });
      else {
        const inside = query.slice(braces.from + 1, braces.to - 1).trim();
        inserts.push({ at: braces.from + 1, text: inside ? `${matcher},` : matcher });
      }
      return false;
    },
  });
  let scoped = query;
  for (const { at, text } of inserts.sort((a, b) => b.at - a.at))
    scoped = scoped.slice(0, at) + text + scoped.slice(at);
  // Defence in depth: the result parses and every selector carries the matcher.
  let unscoped = promqlProblems(scoped).length > 0;
  parser.parse(scoped).iterate({
    enter: (node) => {
      if (node.name !== 'VectorSelector') return undefined;
      if (!scoped.slice(node.from, node.to).includes(matcher)) unscoped = true;
      return false;
    },
  });
  if (unscoped) throw AionError.validation('the query cannot be limited to the tenant');
  return scoped;
}
