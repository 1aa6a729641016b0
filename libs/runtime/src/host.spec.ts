import { checkDependencies } from './host';
import type { ReadinessCheck } from './infrastructure';

const up = (name: string, required: boolean): ReadinessCheck => ({
  name,
  required,
  check: async () => undefined,
});
const down = (name: string, required: boolean): ReadinessCheck => ({
  name,
  required,
  check: async () => {
    throw new Error(`connect ECONNREFUSED 10.0.0.9 (${name})`);
  },
});
const hung = (name: string, required: boolean): ReadinessCheck => ({
  name,
  required,
  check: () => new Promise<void>(() => undefined),
});

describe('checkDependencies', () => {
  it('is ready when every required dependency is up, whatever the optional ones do', async () => {
    const probe = await checkDependencies(
      [up('database', true), down('kafka', false), hung('redis', false)],
      { timeoutMs: 50 },
    );
    expect(probe.ready).toBe(true);
    expect(probe.dependencies).toMatchObject({
      database: { state: 'up', required: true },
      kafka: { state: 'down', required: false },
      redis: { state: 'down', required: false },
    });
  });

  it('is not ready when a required dependency is down', async () => {
    const probe = await checkDependencies([down('database', true), up('kafka', false)], {
      timeoutMs: 50,
    });
    expect(probe.ready).toBe(false);
    expect(probe.dependencies['database']?.state).toBe('down');
    expect(probe.dependencies['kafka']?.state).toBe('up');
  });

  it('bounds a check that hangs by the timeout and reports its latency', async () => {
    const started = performance.now();
    const probe = await checkDependencies([hung('database', true), up('kafka', false)], {
      timeoutMs: 100,
    });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(95);
    expect(elapsed).toBeLessThan(1000);
    expect(probe.ready).toBe(false);
    expect(probe.dependencies['database']).toMatchObject({ state: 'down' });
    expect(probe.dependencies['database']!.latency_ms).toBeGreaterThanOrEqual(95);
    expect(probe.dependencies['kafka']!.latency_ms).toBeLessThan(95);
  });

  it('treats a check that throws synchronously as down, and gives the reason only to onFailure', async () => {
    const reasons: string[] = [];
    const throwing: ReadinessCheck = {
      name: 'database',
      required: true,
      check: () => {
        throw new Error('pool is closed');
      },
    };
    const probe = await checkDependencies([throwing, down('kafka', false)], {
      timeoutMs: 50,
      onFailure: (c, reason) => reasons.push(`${c.name}: ${reason}`),
    });
    expect(probe.ready).toBe(false);
    expect(reasons.sort()).toEqual([
      'database: pool is closed',
      'kafka: connect ECONNREFUSED 10.0.0.9 (kafka)',
    ]);
    expect(JSON.stringify(probe)).not.toMatch(/ECONNREFUSED|pool is closed/);
  });

  it('is ready with no dependencies at all', async () => {
    expect(await checkDependencies([], { timeoutMs: 50 })).toEqual({
      ready: true,
      dependencies: {},
    });
  });
});
