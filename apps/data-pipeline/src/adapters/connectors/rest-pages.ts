import { AionError } from '@aion/errors';
import { dataError } from '../../core/model';

/** How a REST source pages: a cursor from the body, a page number, or RFC 8288 `Link: rel="next"`. */
export type Pagination =
  | { style: 'none' }
  | { style: 'cursor'; cursorParam: string; cursorPath: string }
  | { style: 'page'; pageParam: string; start: number; sizeParam?: string; size?: number }
  | { style: 'link' };

const refuse = (field: string, message: string) =>
  AionError.validation(message, [{ field, reason: 'invalid', message }]);
const NAME = /^[A-Za-z0-9_.-]{1,100}$/;

const name = (v: unknown, fallback: string, field: string): string => {
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !NAME.test(v)) throw refuse(field, `${field} must be a field name`);
  return v;
};
const int = (v: unknown, fallback: number, field: string, min: number, max: number) => {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw refuse(field, `${field} must be an integer from ${min} to ${max}`);
  return v;
};

/** The source's `pagination` object, checked field by field. */
export function parsePagination(v: unknown): Pagination {
  if (v === undefined) return { style: 'none' };
  const f = 'source.pagination';
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw refuse(f, `${f} must be an object`);
  const p = v as Record<string, unknown>;
  switch (p['style']) {
    case 'cursor':
      return {
        style: 'cursor',
        cursorParam: name(p['cursor_param'], 'cursor', `${f}.cursor_param`),
        cursorPath: name(p['cursor_path'], 'next_cursor', `${f}.cursor_path`),
      };
    case 'page': {
      const size = int(p['size'], 0, `${f}.size`, 1, 10_000);
      return {
        style: 'page',
        pageParam: name(p['page_param'], 'page', `${f}.page_param`),
        start: int(p['start'], 1, `${f}.start`, 0, 1_000_000),
        ...(p['size_param'] !== undefined || size
          ? { sizeParam: name(p['size_param'], 'per_page', `${f}.size_param`), size: size || 100 }
          : {}),
      };
    }
    case 'link':
      return { style: 'link' };
    case 'none':
      return { style: 'none' };
    default:
      throw refuse(`${f}.style`, `${f}.style must be cursor, page, link or none`);
  }
}

/** A dotted path into a JSON value (`data.items`); '' is the value itself. */
export function at(value: unknown, dotted: string): unknown {
  if (dotted === '') return value;
  let v = value;
  for (const key of dotted.split('.')) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** The `rel="next"` target of a Link header, resolved against the page's URL. */
export function nextLink(header: string | null, base: URL): URL | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (m && /;\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(m[2]!))
      return new URL(m[1]!, base);
  }
  return undefined;
}

/**
 * The records of one page: the array at `records` in the parsed body. A body that is not JSON,
 * or a page without the array, or a record that is no object, is refused naming the page and field.
 */
export function recordsOf(body: string, records: string, page: number, url: URL) {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw dataError(`page ${page} (${url.href}) is not valid JSON: ${(err as Error).message}`, [
      { field: `page ${page}`, reason: 'malformed_json', message: (err as Error).message },
    ]);
  }
  const items = at(parsed, records);
  const field = records === '' ? 'the body' : `"${records}"`;
  if (!Array.isArray(items))
    throw dataError(`page ${page} (${url.href}): ${field} is not an array of records`, [
      {
        field: `page ${page}, ${records || 'body'}`,
        reason: 'not_an_array',
        message: typeof items,
      },
    ]);
  const bad = items.findIndex((r) => typeof r !== 'object' || r === null || Array.isArray(r));
  if (bad >= 0)
    throw dataError(`page ${page} (${url.href}): record ${bad} of ${field} is not an object`, [
      {
        field: `page ${page}, ${records || 'body'}[${bad}]`,
        reason: 'not_an_object',
        message: JSON.stringify(items[bad])?.slice(0, 100) ?? '',
      },
    ]);
  return { parsed, items: items as Record<string, unknown>[] };
}

/** The URL of the page after this one, or undefined at the end. */
export function nextPage(
  p: Pagination,
  current: URL,
  pageIndex: number,
  parsed: unknown,
  count: number,
  link: string | null,
): URL | undefined {
  if (p.style === 'none') return undefined;
  if (p.style === 'link') return nextLink(link, current);
  if (p.style === 'page') {
    if (count === 0 || (p.size !== undefined && count < p.size)) return undefined;
    const next = new URL(current);
    next.searchParams.set(p.pageParam, String(p.start + pageIndex + 1));
    return next;
  }
  const cursor = at(parsed, p.cursorPath);
  if (cursor === undefined || cursor === null || cursor === '' || count === 0) return undefined;
  if (typeof cursor !== 'string' && typeof cursor !== 'number')
    throw dataError(`page ${pageIndex + 1}: "${p.cursorPath}" is not a cursor (string or number)`, [
      {
        field: `page ${pageIndex + 1}, ${p.cursorPath}`,
        reason: 'invalid_cursor',
        message: typeof cursor,
      },
    ]);
  const next = new URL(current);
  next.searchParams.set(p.cursorParam, String(cursor));
  return next;
}

/** The first page's URL: the page style starts at its first page number (and size). */
export function firstPage(p: Pagination, url: URL): URL {
  const first = new URL(url);
  if (p.style === 'page') {
    first.searchParams.set(p.pageParam, String(p.start));
    if (p.sizeParam && p.size) first.searchParams.set(p.sizeParam, String(p.size));
  }
  return first;
}
