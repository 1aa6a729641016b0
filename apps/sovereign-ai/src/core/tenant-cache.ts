/**
 * Per-tenant values that are expensive to build and change rarely (compiled rule indexes, model
 * lists). Entries expire after `ttlMs` as a safety net; change events clear them at once.
 * Concurrent misses for one tenant share a single load.
 */
export class TenantCache<T> {
  private readonly entries = new Map<
    string,
    { value: Promise<T>; expires: number; generation: number }
  >();
  private generation = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(tenantId: string, load: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(tenantId);
    if (hit && hit.expires > this.now()) return hit.value;
    const generation = ++this.generation;
    const value = load();
    this.entries.set(tenantId, { value, expires: this.now() + this.ttlMs, generation });
    // A failed load is not cached; the next call tries again.
    value.catch(() => {
      if (this.entries.get(tenantId)?.generation === generation) this.entries.delete(tenantId);
    });
    return value;
  }

  invalidate(tenantId: string): void {
    this.entries.delete(tenantId);
  }

  clear(): void {
    this.entries.clear();
  }
}
