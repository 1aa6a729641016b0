import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The deadline of the call being served, so outgoing calls made while serving it inherit it:
 * a request that has 2 s left at the gateway never waits 30 s two hops further down.
 */
const inherited = new AsyncLocalStorage<Date>();

export function runWithDeadline<T>(deadline: Date | undefined, fn: () => T): T {
  return deadline ? inherited.run(deadline, fn) : fn();
}

export function effectiveDeadline(relativeMs: number | undefined): Date | undefined {
  const own = relativeMs !== undefined ? new Date(Date.now() + relativeMs) : undefined;
  const parent = inherited.getStore();
  if (!own) return parent;
  if (!parent) return own;
  return own < parent ? own : parent;
}
