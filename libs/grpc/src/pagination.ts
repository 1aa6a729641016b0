import { AionError } from '@aion/errors';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;
/** The largest offset a page token may carry. */
export const MAX_PAGE_OFFSET = 999_999_999;

/**
 * Page tokens carry the offset of the next page in decimal: clients pass back what a page's
 * next_page_token said. Every token that matches PAGE_TOKEN_PATTERN is valid (a token past the
 * end gives an empty page), so the public API can document exactly what it accepts.
 */
export const PAGE_TOKEN_PATTERN = /^[0-9]{1,9}$/;

export function pageWindow(page: { pageSize?: number; pageToken?: string } | undefined): {
  limit: number;
  offset: number;
} {
  const size = page?.pageSize ?? 0;
  if (size < 0)
    throw new AionError('validation.invalid_argument', 'page_size must not be negative');
  const limit = size === 0 ? DEFAULT_PAGE_SIZE : Math.min(size, MAX_PAGE_SIZE);
  if (!page?.pageToken) return { limit, offset: 0 };
  if (!PAGE_TOKEN_PATTERN.test(page.pageToken))
    throw new AionError('validation.invalid_argument', 'page_token is not valid', {
      details: [{ field: 'page_token', message: 'pass back a next_page_token unchanged' }],
    });
  return { limit, offset: Number(page.pageToken) };
}

export function nextPageToken(offset: number, returned: number, total: number): string {
  const next = offset + returned;
  return next < total && returned > 0 && next <= MAX_PAGE_OFFSET ? String(next) : '';
}
