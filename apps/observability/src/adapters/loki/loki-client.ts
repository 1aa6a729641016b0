import * as z from 'zod/v4';
import { AionError } from '@aion/errors';
import type { LogLine, LogsReader } from '../../core/logs';

const streams = z.object({
  status: z.literal('success'),
  data: z.object({
    resultType: z.literal('streams'),
    result: z.array(
      z.object({
        stream: z.record(z.string(), z.string()),
        values: z.array(z.tuple([z.string().regex(/^\d{1,20}$/), z.string()])),
      }),
    ),
  }),
});

/** Loki's HTTP API (query_range), multi-tenant: the tenant goes in X-Scope-OrgID. */
export class LokiClient implements LogsReader {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  async query(
    tenantId: string,
    q: { query: string; start: Date; end: Date; limit: number },
  ): Promise<LogLine[]> {
    const url = new URL('/loki/api/v1/query_range', this.baseUrl);
    url.searchParams.set('query', q.query);
    url.searchParams.set('start', `${q.start.getTime()}000000`);
    url.searchParams.set('end', `${q.end.getTime()}000000`);
    url.searchParams.set('limit', String(q.limit));
    url.searchParams.set('direction', 'backward');
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        headers: { 'X-Scope-OrgID': tenantId },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      throw new AionError('service.unavailable', 'Loki did not answer', { cause: err });
    }
    // Loki answers a query it cannot parse with 400 and the parser's message as plain text.
    if (res.status === 400)
      throw AionError.validation(`Loki refused the query: ${text.slice(0, 500)}`, [
        { field: 'query', message: text.slice(0, 500) },
      ]);
    if (!res.ok) throw new AionError('service.unavailable', `Loki answered ${res.status}`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const parsed = streams.safeParse(body);
    if (!parsed.success)
      throw new AionError('service.unavailable', 'Loki answered something unexpected');
    return parsed.data.data.result
      .flatMap((s) =>
        s.values.map(([ns, line]) => ({
          time: new Date(Number(BigInt(ns) / 1_000_000n)),
          labels: s.stream,
          line,
        })),
      )
      .sort((a, b) => b.time.getTime() - a.time.getTime())
      .slice(0, q.limit);
  }
}
