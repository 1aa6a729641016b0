import { AionError } from '@aion/errors';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** Page tokens are opaque to clients: a base64url offset, validated on the way back in. */
export function pageWindow(page: { pageSize?: number; pageToken?: string } | undefined): {
  limit: number;
  offset: number;
} {
  const size = page?.pageSize ?? 0;
  if (size < 0)
    throw new AionError('validation.invalid_argument', 'page_size must not be negative');
  const limit = size === 0 ? DEFAULT_PAGE_SIZE : Math.min(size, MAX_PAGE_SIZE);
  if (!page?.pageToken) return { limit, offset: 0 };
  const offset = Number(
    Buffer.from(page.pageToken, 'base64url').toString('utf8').replace(/^o:/, ''),
  );
  if (
    !Number.isSafeInteger(offset) ||
    offset < 0 ||
    !Buffer.from(page.pageToken, 'base64url').toString('utf8').startsWith('o:')
  ) {
    throw new AionError('validation.invalid_argument', 'page_token is not valid');
  }
  return { limit, offset };
}

export function nextPageToken(offset: number, returned: number, total: number): string {
  const next = offset + returned;
  return next < total && returned > 0 ? Buffer.from(`o:${next}`).toString('base64url') : '';
}
