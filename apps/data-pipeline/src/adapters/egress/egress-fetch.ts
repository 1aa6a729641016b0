import { Agent, fetch, type Headers, type Response } from 'undici';
import { type EgressPolicy, egressRefused } from './egress-policy';

export interface EgressFetchOptions {
  headers?: Record<string, string>;
  signal: AbortSignal;
  /** Largest body read; a longer one is refused (a page must be bounded). */
  maxBytes: number;
  /** Redirects followed, each one checked like the first URL (default 5). */
  maxRedirects?: number;
  field?: string;
}

export interface EgressResponse {
  status: number;
  headers: Headers;
  /** Where the body came from (after redirects). */
  url: URL;
  body: string;
}

const defaultPort = (url: URL) => Number(url.port || (url.protocol === 'https:' ? 443 : 80));

async function boundedText(response: Response, maxBytes: number, url: URL, field: string) {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body)
    for await (const chunk of response.body) {
      size += (chunk as Uint8Array).byteLength;
      if (size > maxBytes)
        throw egressRefused(`the response of ${url.href} is larger than ${maxBytes} bytes`, field);
      chunks.push(chunk as Uint8Array);
    }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A GET through the egress policy: the URL and every redirect target are checked, and the socket
 * of each hop connects through the policy's lookup, so it reaches only an address that was checked.
 * Redirects are followed here (never by the HTTP client) so none skips the check.
 */
export async function egressFetch(
  policy: EgressPolicy,
  start: URL,
  options: EgressFetchOptions,
): Promise<EgressResponse> {
  const field = options.field ?? 'source.url';
  const maxRedirects = options.maxRedirects ?? 5;
  let url = start;
  for (let hop = 0; ; hop++) {
    policy.checkUrl(url, field);
    const agent = new Agent({ connect: { lookup: policy.lookupFor(defaultPort(url)) } });
    try {
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'GET',
          redirect: 'manual',
          signal: options.signal,
          dispatcher: agent,
          ...(options.headers ? { headers: options.headers } : {}),
        });
      } catch (err) {
        // The policy's refusal (from the lookup) surfaces as the fetch failure's cause.
        const cause = (err as { cause?: unknown }).cause;
        if (cause instanceof Error && cause.name === 'AionError') throw cause;
        throw err;
      }
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel().catch(() => undefined);
        if (hop >= maxRedirects)
          throw egressRefused(`more than ${maxRedirects} redirects from ${start.href}`, field);
        url = new URL(location, url);
        continue;
      }
      const body = await boundedText(response, options.maxBytes, url, field);
      return { status: response.status, headers: response.headers, url, body };
    } finally {
      // Sockets go with the hop: nothing of this request outlives it.
      await agent.destroy().catch(() => undefined);
    }
  }
}
