import { AionError } from '@aion/errors';
import { choosePools, satisfies, type PoolState } from './module-pools';

const pool = (name: string, accelerator: PoolState['accelerator'], up = true): PoolState => ({
  name,
  accelerator,
  up,
});
const pools = [pool('gpu-a', 'cuda'), pool('default', 'cpu'), pool('amd', 'rocm')];

function refusal(fn: () => unknown): AionError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AionError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('satisfies', () => {
  it.each([
    ['cpu', 'cpu', true],
    ['cuda', 'cpu', true],
    ['cpu', 'cuda', false],
    ['cuda', 'cuda', true],
    ['rocm', 'cuda', false],
    ['oneapi', 'any-gpu', true],
    ['cpu', 'any-gpu', false],
  ] as const)('a %s pool runs a module needing %s: %p', (accelerator, need, expected) => {
    expect(satisfies(accelerator, need)).toBe(expected);
  });
});

describe('choosePools', () => {
  it('sends a GPU module only to pools of its kind, and says why', () => {
    const decision = choosePools('embed', 'cuda', pools);
    expect(decision.pools).toEqual(['gpu-a']);
    expect(decision.reason).toBe('module embed needs cuda: pool gpu-a (cuda)');
  });

  it('runs a cpu module anywhere, cpu pools first and GPU pools in config order after', () => {
    const decision = choosePools('summarize', 'cpu', pools);
    expect(decision.pools).toEqual(['default', 'gpu-a', 'amd']);
    expect(decision.reason).toMatch(/cpu \(any pool\): pool default \(cpu\), then gpu-a/);
    expect(decision.reason).toMatch(/GPU nodes stay free/);
  });

  it('runs an any-gpu module on every GPU pool and never on cpu', () => {
    expect(choosePools('m', 'any-gpu', pools).pools).toEqual(['gpu-a', 'amd']);
  });

  it('skips pools that are down and names them', () => {
    const decision = choosePools('summarize', 'cpu', [pool('default', 'cpu', false), pools[0]!]);
    expect(decision.pools).toEqual(['gpu-a']);
    expect(decision.reason).toMatch(/skipped as unreachable: default \(cpu\)/);
  });

  it('refuses with 422 when no pool has what the module needs', () => {
    const err = refusal(() => choosePools('render', 'oneapi', pools));
    expect(err.code).toBe('validation.unprocessable');
    expect(err.httpStatus).toBe(422);
    expect(err.message).toBe(
      'module render needs oneapi, and no module-host pool has it (pools: gpu-a (cuda), default (cpu), amd (rocm))',
    );
    expect(refusal(() => choosePools('x', 'any-gpu', [pool('default', 'cpu')])).code).toBe(
      'validation.unprocessable',
    );
  });

  it('answers 503 when every pool that could run it is down, even if others are up', () => {
    const err = refusal(() =>
      choosePools('embed', 'cuda', [pool('default', 'cpu'), pool('gpu-a', 'cuda', false)]),
    );
    expect(err.code).toBe('service.unavailable');
    expect(err.httpStatus).toBe(503);
    expect(err.message).toMatch(/every pool that has it is unreachable: gpu-a \(cuda\)/);
    expect(err.details).toEqual([{ field: 'pool.gpu-a', message: 'unreachable' }]);
  });
});
