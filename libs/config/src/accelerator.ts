import { z } from 'zod';

/**
 * The kinds of module-host pool: plain CPU nodes, or nodes with NVIDIA (CUDA), AMD (ROCm) or
 * Intel (oneAPI / Level Zero) GPUs. A pool's module hosts all share one.
 */
export const ACCELERATORS = ['cpu', 'cuda', 'rocm', 'oneapi'] as const;
export type Accelerator = (typeof ACCELERATORS)[number];

/** What a module may need: a pool of one kind, or any GPU pool (`cpu` runs anywhere). */
export const ACCELERATOR_NEEDS = [...ACCELERATORS, 'any-gpu'] as const;
export type AcceleratorNeed = (typeof ACCELERATOR_NEEDS)[number];

/** A pool name as the chart names Deployments: a DNS label, so it can be part of one. */
export const POOL_NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

export const accelerator = (fallback: Accelerator) =>
  z.enum(ACCELERATORS, { message: `must be one of ${ACCELERATORS.join(', ')}` }).default(fallback);

export const poolName = (fallback: string) =>
  z
    .string()
    .regex(POOL_NAME, 'must be lowercase letters, digits and dashes (at most 40, a DNS label)')
    .default(fallback);
