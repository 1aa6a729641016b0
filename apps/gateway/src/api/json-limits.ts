/**
 * The first problem of a parsed JSON value (or query) that no schema can see: nesting deeper than
 * `maxDepth`, or a U+0000 in a string or key (PostgreSQL cannot store it). Walked without
 * recursion, so a hostile body cannot overflow the stack.
 */
export function jsonProblem(value: unknown, maxDepth: number): string | undefined {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (depth > maxDepth) return `nests deeper than ${maxDepth} levels`;
    if (typeof node === 'string') {
      if (node.includes('\u0000')) return 'holds a U+0000 character';
    } else if (node && typeof node === 'object')
      for (const [key, child] of Object.entries(node)) {
        if (key.includes('\u0000')) return 'holds a U+0000 character';
        stack.push([child, depth + 1]);
      }
  }
  return undefined;
}
