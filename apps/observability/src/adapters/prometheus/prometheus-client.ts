import * as z from 'zod/v4';
import { AionError } from '@aion/errors';
import type { MetricsReader, Sample } from '../../core/burn-rate-status';

const vectorAnswer = z.object({
  status: z.literal('success'),
  data: z.object({
    resultType: z.string(),
    result: z.array(
      z.object({
        metric: z.record(z.string(), z.string()),
        value: z.tuple([z.number(), z.string()]),
      }),
    ),
  }),
});

/** Prometheus writes values as strings, infinities as +Inf and -Inf (which Number does not read). */
const number = (value: string) =>
  value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value);

/** Prometheus's HTTP API: instant queries. */
export class PrometheusClient implements MetricsReader {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  async instant(query: string, at?: Date): Promise<Sample[]> {
    const body = new URLSearchParams({ query });
    if (at) body.set('time', String(at.getTime() / 1000));
    let answer: unknown;
    try {
      const res = await fetch(new URL('/api/v1/query', this.baseUrl), {
        method: 'POST',
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      answer = await res.json();
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${JSON.stringify(answer).slice(0, 300)}`);
    } catch (err) {
      throw new AionError('service.unavailable', 'Prometheus did not answer the query', {
        cause: err,
      });
    }
    const parsed = vectorAnswer.safeParse(answer);
    if (!parsed.success || parsed.data.data.resultType !== 'vector')
      throw new AionError('service.unavailable', 'Prometheus answered something unexpected');
    return parsed.data.data.result.map((r) => ({ labels: r.metric, value: number(r.value[1]) }));
  }
}
