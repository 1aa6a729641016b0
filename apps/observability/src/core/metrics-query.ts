import { AionError } from '@aion/errors';
import type { MetricsReader, Series } from './burn-rate-status';
import { scopeToTenant } from './tenant-query';

export interface MetricsQuery {
  query: string;
  /** With start: a range query from start to end (default now) every stepSeconds. */
  start?: Date;
  end?: Date;
  stepSeconds?: number;
}

/** Prometheus's own bound on points per series of a range query. */
const MAX_POINTS = 11_000;

/** PromQL for a tenant: only its own series, whatever the query names (scopeToTenant). */
export class MetricsQueryService {
  constructor(private readonly reader: MetricsReader) {}

  async query(tenantId: string, q: MetricsQuery): Promise<Series[]> {
    const problems: { field: string; message: string }[] = [];
    if (q.query.length > 10_000)
      problems.push({ field: 'query', message: 'at most 10000 characters' });
    const end = q.end ?? new Date();
    if (q.start) {
      const step = q.stepSeconds ?? 0;
      if (!(end > q.start)) problems.push({ field: 'end', message: 'after start' });
      if (!Number.isInteger(step) || step < 1)
        problems.push({ field: 'step_seconds', message: 'a whole number of seconds, at least 1' });
      else if ((end.getTime() - q.start.getTime()) / 1000 / step > MAX_POINTS)
        problems.push({
          field: 'step_seconds',
          message: `at most ${MAX_POINTS} points: a longer step`,
        });
    }
    if (problems.length)
      throw AionError.validation(
        `the query is invalid: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`,
        problems,
      );
    const scoped = scopeToTenant(q.query, tenantId);
    if (q.start) return this.reader.range(scoped, q.start, end, q.stepSeconds!);
    const samples = await this.reader.instant(scoped, end);
    return samples.map((s) => ({ labels: s.labels, samples: [{ time: end, value: s.value }] }));
  }
}
