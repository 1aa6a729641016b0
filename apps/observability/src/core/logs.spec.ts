import { LogsQueryService, type LogsReader } from './logs';

describe('LogsQueryService', () => {
  it('asks the reader as the tenant, and refuses an unbounded or empty query', async () => {
    const asked: string[] = [];
    const reader: LogsReader = { query: async (t) => (asked.push(t), []) };
    const service = new LogsQueryService(reader);
    await service.query('acme', {
      query: '{a="b"}',
      start: new Date(0),
      end: new Date(1),
      limit: 10,
    });
    expect(asked).toEqual(['acme']);
    await expect(
      service.query('acme', {
        query: '{a="b"}',
        start: new Date(0),
        end: new Date(31 * 86_400_000),
        limit: 10,
      }),
    ).rejects.toMatchObject({
      details: [{ field: 'start', message: 'at most 30 days before end' }],
    });
    await expect(
      service.query('', { query: '{a="b"}', start: new Date(0), end: new Date(1), limit: 1 }),
    ).rejects.toMatchObject({ code: 'auth.forbidden' });
  });
});
