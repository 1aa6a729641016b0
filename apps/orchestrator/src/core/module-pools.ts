import type { Accelerator, AcceleratorNeed } from '@aion/config';
import { AionError } from '@aion/errors';

/** One module-host pool the orchestrator may send module tasks to (from its config). */
export interface ModuleHostPool {
  name: string;
  accelerator: Accelerator;
  /** gRPC target of the pool's module hosts (dns:///name:port spreads over its replicas). */
  address: string;
}

/** A module-host pool as routing sees it: its kind and whether it answered lately. */
export interface PoolState {
  name: string;
  accelerator: Accelerator;
  /** False while a recent call to the pool failed to reach it (see ModuleHostPools). */
  up: boolean;
}

export interface PoolDecision {
  /** Pools to try, best first: the caller moves down the list when one cannot be reached. */
  pools: string[];
  /** Why these pools and this order, for the log and the error a caller sees. */
  reason: string;
}

const describePool = (p: PoolState) => `${p.name} (${p.accelerator})`;

/** Whether a pool of this kind can run a module with this need. */
export function satisfies(accelerator: Accelerator, need: AcceleratorNeed): boolean {
  if (need === 'cpu') return true;
  if (need === 'any-gpu') return accelerator !== 'cpu';
  return accelerator === need;
}

/**
 * Where a module runs: a pool whose accelerator satisfies its need, pools that answered lately
 * first. A cpu module prefers cpu pools and falls back to GPU pools (their nodes run it as well);
 * a GPU module goes only to pools of its kind. Pure, so every outcome is unit-tested.
 *
 * Throws validation.unprocessable (422) when no pool can ever run the module, and
 * service.unavailable (503) when the pools that could are all down.
 */
export function choosePools(
  module: string,
  need: AcceleratorNeed,
  pools: PoolState[],
): PoolDecision {
  const suitable = pools.filter((p) => satisfies(p.accelerator, need));
  const wanted = need === 'cpu' ? 'cpu (any pool)' : need === 'any-gpu' ? 'a GPU pool' : need;
  if (suitable.length === 0)
    throw new AionError(
      'validation.unprocessable',
      `module ${module} needs ${wanted}, and no module-host pool has it (pools: ${pools.map(describePool).join(', ') || 'none'})`,
      {
        details: [
          { field: 'runtime.resources.accelerator', message: `needs ${need}; no pool has it` },
        ],
      },
    );
  const up = suitable.filter((p) => p.up);
  if (up.length === 0)
    throw new AionError(
      'service.unavailable',
      `module ${module} needs ${wanted}, and every pool that has it is unreachable: ${suitable.map(describePool).join(', ')}`,
      {
        details: suitable.map((p) => ({ field: `pool.${p.name}`, message: 'unreachable' })),
      },
    );
  // Stable sort: config order within each group (cpu pools first for a cpu module).
  const ranked =
    need === 'cpu'
      ? [...up].sort((a, b) => Number(a.accelerator !== 'cpu') - Number(b.accelerator !== 'cpu'))
      : up;
  const first = ranked[0]!;
  const down = suitable.filter((p) => !p.up).map(describePool);
  const reason =
    `module ${module} needs ${wanted}: pool ${describePool(first)}` +
    (ranked.length > 1 ? `, then ${ranked.slice(1).map(describePool).join(', ')}` : '') +
    (need === 'cpu' && first.accelerator === 'cpu' && ranked.length > 1
      ? ' (cpu pools first: GPU nodes stay free for GPU modules)'
      : '') +
    (down.length ? `; skipped as unreachable: ${down.join(', ')}` : '');
  return { pools: ranked.map((p) => p.name), reason };
}
