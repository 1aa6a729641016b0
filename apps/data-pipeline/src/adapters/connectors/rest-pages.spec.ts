import { nextLink, nextPage, parsePagination, recordsOf } from './rest-pages';

const base = new URL('https://api.example.com/v1/items?page=1');

describe('REST pagination', () => {
  it('reads rel="next" among other links, relative or absolute', () => {
    const header =
      '<https://api.example.com/v1/items?page=1>; rel="prev", <?page=3>; rel="next last", <https://x.example/>; rel=first';
    expect(nextLink(header, base)?.href).toBe('https://api.example.com/v1/items?page=3');
    expect(nextLink('<https://a.example/n>; rel=next', base)?.href).toBe('https://a.example/n');
    expect(nextLink('<https://a.example/n>; rel="nextish"', base)).toBeUndefined();
    expect(nextLink(null, base)).toBeUndefined();
  });

  it('checks the pagination object field by field', () => {
    expect(parsePagination(undefined)).toEqual({ style: 'none' });
    expect(parsePagination({ style: 'page' })).toEqual({
      style: 'page',
      pageParam: 'page',
      start: 1,
    });
    expect(() => parsePagination({ style: 'offset' })).toThrow(/source.pagination.style/);
    expect(() => parsePagination({ style: 'page', size: 0 })).toThrow(/source.pagination.size/);
    expect(() => parsePagination({ style: 'cursor', cursor_path: 'a b' })).toThrow(
      /source.pagination.cursor_path/,
    );
  });

  it('ends a page walk on an empty or short page, and a cursor walk without a cursor', () => {
    const page = parsePagination({ style: 'page', size: 2, size_param: 'n' });
    expect(nextPage(page, base, 0, [], 2, null)?.searchParams.get('page')).toBe('2');
    expect(nextPage(page, base, 0, [], 1, null)).toBeUndefined();
    const cursor = parsePagination({ style: 'cursor', cursor_path: 'meta.next' });
    expect(
      nextPage(cursor, base, 0, { meta: { next: 'abc' } }, 5, null)?.searchParams.get('cursor'),
    ).toBe('abc');
    expect(nextPage(cursor, base, 0, { meta: { next: null } }, 5, null)).toBeUndefined();
    expect(() => nextPage(cursor, base, 0, { meta: { next: { x: 1 } } }, 5, null)).toThrow(
      /page 1: "meta.next" is not a cursor/,
    );
  });

  it('names the page and record that is not an object', () => {
    expect(() => recordsOf('[{"a":1}, 2]', '', 4, base)).toThrow(
      /page 4 .*record 1 of the body is not an object/,
    );
    expect(recordsOf('{"d":[{"a":1}]}', 'd', 1, base).items).toEqual([{ a: 1 }]);
  });
});
