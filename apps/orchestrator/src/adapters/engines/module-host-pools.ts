import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  ModuleService,
  type InvokeModuleStreamRequestSchema,
  type InvokeModuleStreamResponse,
} from '@aion/contracts';
import { ACCELERATOR_NEEDS, type AcceleratorNeed } from '@aion/config';
import { AionError } from '@aion/errors';
import type { CallOptions, ClientOf } from '@aion/grpc';
import { currentTenant } from '@aion/tenancy';
import type { Logger } from '@aion/telemetry';
import { choosePools, type ModuleHostPool, type PoolDecision } from '../../core/module-pools';

type ModuleClient = Pick<ClientOf<typeof ModuleService>, 'describeModule' | 'invokeModuleStream'>;

export interface PoolsOptions {
  /** How long a pool that could not be reached is skipped before it is tried again. */
  downForMs?: number;
  /** How long a module's need (read from its manifest) is reused. */
  needCacheMs?: number;
  logger?: Pick<Logger, 'info' | 'warn'>;
  now?: () => number;
}

/** An error that says the pool was not reached (not that the module failed there). */
const unreachable = (err: unknown) =>
  err instanceof AionError &&
  err.code === 'service.unavailable' &&
  err.retryAfterSeconds === undefined;

/**
 * The module-host pools as one ModuleService for the engine executor: each call goes to a pool
 * that can run the module (choosePools), and moves to the next such pool when one cannot be
 * reached before it answered anything. A module's need comes from its manifest
 * (DescribeModule: the pools share one package store, so any reachable pool answers).
 */
export class ModuleHostPools {
  private readonly downUntil = new Map<string, number>();
  private readonly needs = new Map<string, { need: AcceleratorNeed; until: number }>();
  private readonly downForMs: number;
  private readonly needCacheMs: number;
  private readonly now: () => number;

  constructor(
    private readonly pools: (ModuleHostPool & { client: ModuleClient })[],
    private readonly options: PoolsOptions = {},
  ) {
    if (pools.length === 0) throw new Error('at least one module-host pool is needed');
    this.downForMs = options.downForMs ?? 5_000;
    this.needCacheMs = options.needCacheMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  /** Where `module` would run now, and why (also what invokeModuleStream logs). */
  async route(module: string, callOptions?: CallOptions): Promise<PoolDecision> {
    const need = await this.needOf(module, callOptions);
    const now = this.now();
    return choosePools(
      module,
      need,
      this.pools.map((p) => ({
        name: p.name,
        accelerator: p.accelerator,
        up: (this.downUntil.get(p.name) ?? 0) <= now,
      })),
    );
  }

  async *invokeModuleStream(
    request: MessageInitShape<typeof InvokeModuleStreamRequestSchema>,
    callOptions?: CallOptions,
  ): AsyncGenerator<InvokeModuleStreamResponse> {
    const module = request.name ?? '';
    const decision = await this.route(module, callOptions);
    this.options.logger?.info('module routed', { module, reason: decision.reason });
    let lastError: unknown;
    for (const name of decision.pools) {
      const pool = this.pools.find((p) => p.name === name)!;
      let answered = false;
      try {
        for await (const message of pool.client.invokeModuleStream(request, callOptions)) {
          answered = true;
          yield message;
        }
        return;
      } catch (err) {
        // Once the module answered, a retry elsewhere would run it twice.
        if (answered || !unreachable(err)) throw err;
        this.markDown(pool.name, err);
        lastError = err;
      }
    }
    throw new AionError(
      'service.unavailable',
      `module ${module}: no pool that can run it was reachable (${decision.pools.join(', ')})`,
      { cause: lastError },
    );
  }

  private markDown(pool: string, err: unknown): void {
    this.downUntil.set(pool, this.now() + this.downForMs);
    this.options.logger?.warn('module-host pool unreachable; skipped for a while', {
      pool,
      skip_ms: this.downForMs,
      reason: err instanceof Error ? err.message : String(err),
    });
  }

  /** The accelerator the module's manifest asks for, per tenant (each has its own packages). */
  private async needOf(module: string, callOptions?: CallOptions): Promise<AcceleratorNeed> {
    const key = `${currentTenant()?.tenantId ?? ''}\u0000${module}`;
    const cached = this.needs.get(key);
    if (cached && cached.until > this.now()) return cached.need;
    let lastError: unknown;
    // Pools known up first; a down one may have come back.
    const order = [...this.pools].sort(
      (a, b) => (this.downUntil.get(a.name) ?? 0) - (this.downUntil.get(b.name) ?? 0),
    );
    for (const pool of order) {
      try {
        const { module: described } = await pool.client.describeModule(
          { name: module },
          { ...(callOptions?.signal ? { signal: callOptions.signal } : {}), deadlineMs: 5_000 },
        );
        const declared = described?.resources?.accelerator || 'cpu';
        // A host newer than this orchestrator may name a need it does not know: refuse, clearly.
        if (!(ACCELERATOR_NEEDS as readonly string[]).includes(declared))
          throw new AionError(
            'validation.unprocessable',
            `module ${module} needs accelerator "${declared}", which this orchestrator does not know`,
          );
        const need = declared as AcceleratorNeed;
        this.needs.set(key, { need, until: this.now() + this.needCacheMs });
        return need;
      } catch (err) {
        if (!unreachable(err)) throw err;
        this.markDown(pool.name, err);
        lastError = err;
      }
    }
    throw new AionError(
      'service.unavailable',
      `module ${module}: no module-host pool was reachable to read its manifest`,
      { cause: lastError },
    );
  }
}
