import type { TaskRequestDoc } from './ports';
import { estimateTokens, outputTokensFor } from './tokens';

const request = (intent: string, params: Record<string, unknown> = {}) =>
  ({ intent, params }) as TaskRequestDoc;

describe('token estimates', () => {
  it('counts about four characters a token, of the JSON for anything but text, at least one', () => {
    expect(estimateTokens('abcdefgh')).toBe(2);
    expect(estimateTokens('')).toBe(1);
    expect(estimateTokens(undefined)).toBe(1);
    expect(estimateTokens({ text: 'abcd' })).toBe(Math.ceil('{"text":"abcd"}'.length / 4));
  });

  it('expects what the task asks for, else a third of a summary input, else 512', () => {
    expect(outputTokensFor(request('chat', { max_tokens: 64 }), 900)).toBe(64);
    expect(outputTokensFor(request('chat', { max_tokens: 'lots' }), 900)).toBe(512);
    expect(outputTokensFor(request('summarize'), 900)).toBe(300);
    expect(outputTokensFor(request('chat', { max_tokens: -1 }), 10)).toBe(512);
  });
});
