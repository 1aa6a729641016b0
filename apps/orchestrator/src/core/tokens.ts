import type { TaskRequestDoc } from './ports';

/** Rough token count for budgeting: ~4 characters per token of the JSON-encoded value. */
export function estimateTokens(value: unknown): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? '');
  return Math.max(1, Math.ceil(text.length / 4));
}

/** Tokens a task is expected to produce: what it asks for, else a guess by intent. */
export function outputTokensFor(request: TaskRequestDoc, inputTokens: number): number {
  const asked = Number(request.params['max_tokens']);
  if (Number.isFinite(asked) && asked > 0) return asked;
  return request.intent === 'summarize' ? Math.ceil(inputTokens / 3) : 512;
}
