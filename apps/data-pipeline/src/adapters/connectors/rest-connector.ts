import { AionError } from '@aion/errors';
import { backoffDelay, parseRetryAfter } from '@aion/resilience';
import { dataError } from '../../core/model';
import type { Connector, SourceData } from '../../core/ports';
import { egressFetch, type EgressResponse } from '../egress/egress-fetch';
import type { EgressPolicy } from '../egress/egress-policy';
import { JsonLinesSink } from './jsonl-sink';
import { firstPage, nextPage, parsePagination, recordsOf } from './rest-pages';

/** One configured REST account (AION_PIPELINE_REST_SOURCES): headers sent to its origin only. */
export interface RestSourceCredentials {
  headers?: Record<string, string>;
}

export interface RestLimits {
  /** Per request (each attempt). */
  timeoutMs: number;
  /** Attempts of one page on a network error, a timeout, 429 or 5xx. */
  attempts: number;
  retryBaseMs: number;
  maxPageBytes: number;
  maxPages: number;
}

const DEFAULTS: RestLimits = {
  timeoutMs: 30_000,
  attempts: 3,
  retryBaseMs: 500,
  maxPageBytes: 16 * 1024 * 1024,
  maxPages: 10_000,
};

const refuse = (field: string, message: string) =>
  AionError.validation(message, [{ field, reason: 'invalid', message }]);

/** A failure worth another attempt of the same page (the server's or the network's, not ours). */
class Transient extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * A paginated JSON API (`{"type":"rest","url":…,"records":"data","pagination":{…}}`): pages are
 * fetched one at a time through the egress policy, each bounded in size and time and retried with
 * backoff, their records appended to a local JSON-lines file that the engine then reads. Any
 * failure removes that file, so an interrupted source leaves nothing half-read behind: the job
 * goes back to the queue (transient) or fails naming the page and field (bad data).
 */
export class RestConnector implements Connector {
  readonly type = 'rest';
  private readonly limits: RestLimits;

  constructor(
    private readonly accounts: Record<string, RestSourceCredentials>,
    private readonly egress: EgressPolicy,
    private readonly scratchDir: string,
    limits: Partial<RestLimits> = {},
  ) {
    this.limits = { ...DEFAULTS, ...limits };
  }

  check(source: Record<string, unknown>): void {
    const { url, credentials, records, max_pages: maxPages } = source;
    if (typeof url !== 'string' || !URL.canParse(url))
      throw refuse('source.url', 'source.url must be an absolute http(s) URL');
    this.egress.checkUrl(new URL(url));
    if (typeof credentials === 'string' && credentials !== '' && !(credentials in this.accounts))
      throw AionError.notFound('REST account', credentials);
    if (
      credentials !== undefined &&
      (typeof credentials !== 'string' || !(credentials in this.accounts))
    )
      throw refuse(
        'source.credentials',
        `source.credentials must name a configured REST account (${Object.keys(this.accounts).join(', ') || 'none configured'})`,
      );
    if (
      records !== undefined &&
      (typeof records !== 'string' || !/^[A-Za-z0-9_.-]{0,200}$/.test(records))
    )
      throw refuse('source.records', 'source.records must be a dotted field path (data.items)');
    if (
      maxPages !== undefined &&
      (!Number.isInteger(maxPages) ||
        (maxPages as number) < 1 ||
        (maxPages as number) > this.limits.maxPages)
    )
      throw refuse(
        'source.max_pages',
        `source.max_pages must be from 1 to ${this.limits.maxPages}`,
      );
    parsePagination(source['pagination']);
  }

  async open(source: Record<string, unknown>, signal: AbortSignal): Promise<SourceData> {
    this.check(source);
    const start = new URL(source['url'] as string);
    const pagination = parsePagination(source['pagination']);
    const records = typeof source['records'] === 'string' ? source['records'] : '';
    const maxPages = (source['max_pages'] as number | undefined) ?? this.limits.maxPages;
    const account =
      typeof source['credentials'] === 'string' ? this.accounts[source['credentials']] : undefined;
    const sink = await JsonLinesSink.create(this.scratchDir);
    try {
      let url: URL | undefined = firstPage(pagination, start);
      for (let page = 0; url; page++) {
        if (page >= maxPages)
          throw dataError(`${start.href} has more than ${maxPages} pages`, [
            { field: 'source.max_pages', reason: 'too_many_pages', message: `limit ${maxPages}` },
          ]);
        // Credentials go to the source's own origin, never to another host a page links to.
        const headers = {
          accept: 'application/json',
          ...(account?.headers && url.origin === start.origin ? account.headers : {}),
        };
        const res = await this.page(url, page + 1, headers, signal);
        const { parsed, items } = recordsOf(res.body, records, page + 1, res.url);
        for (const item of items) await sink.write(item);
        url = nextPage(pagination, res.url, page, parsed, items.length, res.headers.get('link'));
      }
      await sink.close();
    } catch (err) {
      await sink.abort();
      throw err;
    }
    return { kind: 'file', path: sink.path, format: 'jsonl', release: sink.release };
  }

  /** One page, retried with jittered backoff (Retry-After honoured) on transient failures. */
  private async page(url: URL, page: number, headers: Record<string, string>, signal: AbortSignal) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(url, page, headers, signal);
      } catch (err) {
        if (!(err instanceof Transient) || signal.aborted) throw err;
        if (attempt >= this.limits.attempts)
          throw new Error(`page ${page} (${url.href}) failed ${attempt} times: ${err.message}`);
        const delay = backoffDelay(attempt, err, {
          baseDelayMs: this.limits.retryBaseMs,
          maxDelayMs: 30_000,
        });
        // A cancelled or timed-out job does not sit out the backoff.
        await new Promise<void>((ok) => {
          const timer = setTimeout(ok, delay);
          signal.addEventListener('abort', () => (clearTimeout(timer), ok()), { once: true });
        });
        if (signal.aborted) throw signal.reason;
      }
    }
  }

  private async attempt(
    url: URL,
    page: number,
    headers: Record<string, string>,
    outer: AbortSignal,
  ) {
    const timeout = AbortSignal.timeout(this.limits.timeoutMs);
    let res: EgressResponse;
    try {
      res = await egressFetch(this.egress, url, {
        headers,
        signal: AbortSignal.any([outer, timeout]),
        maxBytes: this.limits.maxPageBytes,
      });
    } catch (err) {
      if (err instanceof AionError) throw err;
      // fetch refuses ports browsers block (bad port): no retry can change that.
      if ((err as { cause?: Error }).cause?.message === 'bad port')
        throw dataError(`${url.href}: the port is one fetch refuses to use`, [
          { field: 'source.url', reason: 'bad_port', message: url.port },
        ]);
      if (timeout.aborted && !outer.aborted)
        throw new Transient(`timed out after ${this.limits.timeoutMs} ms`);
      if (outer.aborted) throw err;
      throw new Transient((err as Error).message);
    }
    if (res.status === 429 || res.status >= 500)
      throw new Transient(`HTTP ${res.status}`, parseRetryAfter(res.headers.get('retry-after')));
    if (res.status >= 300)
      throw dataError(`page ${page} (${res.url.href}) answered HTTP ${res.status}`, [
        { field: `page ${page}`, reason: `http_${res.status}`, message: res.body.slice(0, 200) },
      ]);
    return res;
  }
}
