import * as z from 'zod/v4';
import { AionError } from '@aion/errors';
import type { MetricsReader, Sample, Series } from '../../core/burn-rate-status';

const answer = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('success'),
    data: z.discriminatedUnion('resultType', [
      z.object({
        resultType: z.literal('vector'),
        result: z.array(
          z.object({
            metric: z.record(z.string(), z.string()),
            value: z.tuple([z.number(), z.string()]),
          }),
        ),
      }),
      z.object({
        resultType: z.literal('matrix'),
        result: z.array(
          z.object({
            metric: z.record(z.string(), z.string()),
            values: z.array(z.tuple([z.number(), z.string()])),
          }),
        ),
      }),
      z.object({ resultType: z.literal('scalar'), result: z.tuple([z.number(), z.string()]) }),
      z.object({ resultType: z.literal('string'), result: z.tuple([z.number(), z.string()]) }),
    ]),
  }),
  z.object({ status: z.literal('error'), errorType: z.string(), error: z.string() }),
]);

/** Prometheus writes values as strings, infinities as +Inf and -Inf (which Number does not read). */
const number = (value: string) =>
  value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value);
const seconds = (d: Date) => String(d.getTime() / 1000);

/** Prometheus's HTTP API: instant and range queries. */
export class PrometheusClient implements MetricsReader {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  async instant(query: string, at?: Date): Promise<Sample[]> {
    const data = await this.call('/api/v1/query', { query, ...(at ? { time: seconds(at) } : {}) });
    if (data.resultType === 'vector')
      return data.result.map((r) => ({ labels: r.metric, value: number(r.value[1]) }));
    if (data.resultType === 'scalar') return [{ labels: {}, value: number(data.result[1]) }];
    throw AionError.validation('the query answers a string, not numbers');
  }

  async range(query: string, start: Date, end: Date, stepSeconds: number): Promise<Series[]> {
    const data = await this.call('/api/v1/query_range', {
      query,
      start: seconds(start),
      end: seconds(end),
      step: String(stepSeconds),
    });
    if (data.resultType !== 'matrix') throw AionError.validation('the query answers no series');
    return data.result.map((r) => ({
      labels: r.metric,
      samples: r.values.map(([t, v]) => ({ time: new Date(t * 1000), value: number(v) })),
    }));
  }

  private async call(path: string, params: Record<string, string>) {
    let body: unknown;
    try {
      const res = await fetch(new URL(path, this.baseUrl), {
        method: 'POST',
        body: new URLSearchParams(params),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      body = await res.json();
    } catch (err) {
      throw new AionError('service.unavailable', 'Prometheus did not answer the query', {
        cause: err,
      });
    }
    const parsed = answer.safeParse(body);
    if (!parsed.success)
      throw new AionError('service.unavailable', 'Prometheus answered something unexpected');
    const a = parsed.data;
    if (a.status === 'success') return a.data;
    // bad_data: the query (Prometheus's type checker); execution: too many samples and the like.
    if (a.errorType === 'bad_data')
      throw AionError.validation(`Prometheus refused the query: ${a.error}`, [
        { field: 'query', message: a.error },
      ]);
    if (a.errorType === 'execution')
      throw new AionError('validation.unprocessable', `the query failed: ${a.error}`);
    throw new AionError('service.unavailable', `Prometheus could not answer: ${a.error}`);
  }
}
