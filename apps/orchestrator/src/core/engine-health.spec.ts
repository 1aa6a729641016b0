import { AionError } from '@aion/errors';
import { countsAgainstEngine } from './engine-health';

describe('countsAgainstEngine', () => {
  it('blames the engine for being down, slow or broken', () => {
    expect(
      countsAgainstEngine(new AionError('service.unavailable', 'engine x is unreachable')),
    ).toBe(true);
    expect(countsAgainstEngine(new AionError('service.timeout', 'timed out'))).toBe(true);
    expect(countsAgainstEngine(AionError.internal(new Error('boom')))).toBe(true);
    expect(countsAgainstEngine(new TypeError('fetch failed'))).toBe(true);
  });

  it("does not blame it for the caller's input, refusals or load it shed", () => {
    expect(countsAgainstEngine(AionError.validation('params.text is required'))).toBe(false);
    expect(
      countsAgainstEngine(new AionError('validation.unprocessable', 'engine x answered HTTP 400')),
    ).toBe(false);
    expect(countsAgainstEngine(new AionError('budget.exceeded', 'over budget'))).toBe(false);
    expect(countsAgainstEngine(AionError.forbidden())).toBe(false);
    expect(
      countsAgainstEngine(
        new AionError('service.unavailable', 'all module workers are busy; retry shortly', {
          retryAfterSeconds: 1,
        }),
      ),
    ).toBe(false);
  });
});
