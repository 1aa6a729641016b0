import { parser } from '@prometheus-io/lezer-promql';

/**
 * Functions that take a range vector: `rate(x)` parses, but Prometheus refuses it, so it is
 * refused here too.
 */
const RANGE_FUNCTIONS = new Set([
  'rate',
  'irate',
  'increase',
  'delta',
  'idelta',
  'deriv',
  'changes',
  'resets',
  'predict_linear',
  'holt_winters',
  'avg_over_time',
  'min_over_time',
  'max_over_time',
  'sum_over_time',
  'count_over_time',
  'stddev_over_time',
  'stdvar_over_time',
  'last_over_time',
  'present_over_time',
  'absent_over_time',
  'quantile_over_time',
]);
// A parenthesised argument is left to Prometheus: (m[5m]) is a range vector too.
const RANGE_NODES = new Set(['MatrixSelector', 'SubqueryExpr', 'ParenExpr']);
/** Modifiers (offset, @) wrap the selector they modify: the check looks inside. */
const MODIFIERS = new Set(['OffsetExpr', 'StepInvariantExpr']);

/** Problems of a PromQL expression as Prometheus's grammar (lezer-promql) reads it; [] if none. */
export function promqlProblems(expression: string): string[] {
  if (!expression.trim()) return ['is empty'];
  const tree = parser.parse(expression);
  const syntax: string[] = [];
  const problems: string[] = [];
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) {
        syntax.push(`syntax error at character ${node.from + 1}`);
        return false;
      }
      if (node.name !== 'FunctionCall') return undefined;
      const name = node.node.getChild('FunctionIdentifier');
      const body = node.node.getChild('FunctionCallBody');
      const fn = name ? expression.slice(name.from, name.to) : '';
      if (!RANGE_FUNCTIONS.has(fn) || !body) return undefined;
      // The range vector is the first argument, quantile_over_time's second.
      const args: string[] = [];
      for (let child = body.firstChild; child; child = child.nextSibling) {
        if (['(', ')', ','].includes(child.name)) continue;
        let arg = child;
        while (MODIFIERS.has(arg.name) && arg.firstChild) arg = arg.firstChild;
        args.push(arg.name);
      }
      const range = fn === 'quantile_over_time' ? args[1] : args[0];
      if (range && !RANGE_NODES.has(range))
        problems.push(`${fn}() needs a range vector, e.g. ${fn}(metric[5m])`);
      return undefined;
    },
  });
  // A syntax error makes the rest of the tree a guess: report only it.
  return [...new Set(syntax.length ? syntax : problems)];
}

/** The metric names a PromQL expression selects (its vector selectors' names). */
export function selectedMetrics(expression: string): string[] {
  const names: string[] = [];
  parser.parse(expression).iterate({
    enter: (node) => {
      if (node.name !== 'VectorSelector') return undefined;
      const id = node.node.getChild('Identifier');
      if (id) names.push(expression.slice(id.from, id.to));
      return false;
    },
  });
  return names;
}
