import { AuditLogService, type AuditFilter, type AuditLogStore } from '../core/audit-log';
import { StatsService, type StatsStore } from '../core/stats';
import { auditHandlers } from './audit-handlers';

/** A store that remembers what it was asked and holds no records. */
function recordingStore() {
  const asked: { filter?: AuditFilter; page?: { limit: number; offset: number } } = {};
  const store: AuditLogStore = {
    recordAudit: async () => true,
    recordUsage: async () => true,
    listAudit: async (filter, page) => {
      Object.assign(asked, { filter, page });
      return { items: [], total: 0 };
    },
    usageTotals: async () => [],
  };
  const windows: { since: Date; until: Date }[] = [];
  const stats: StatsStore = {
    stats: async (window) => {
      windows.push(window);
      return {
        tasksByStatus: { OK: 3, ERROR: 1 },
        tasksInFlight: 2,
        latencyP50Ms: 40,
        latencyP95Ms: 90,
        deadLettersOpen: 1,
        promptApprovalsPending: 0,
        costUsd: 0.5,
        inputTokens: 10,
        outputTokens: 20,
        audit: { success: 5, denied: 2, failure: 0 },
      };
    },
  };
  return {
    asked,
    windows,
    handlers: auditHandlers(new AuditLogService(store), new StatsService(stats)).handlers,
  };
}

const request = (
  over: Partial<Record<'actor' | 'action' | 'outcome' | 'since' | 'until', string>>,
) => ({
  actor: '',
  action: '',
  outcome: '',
  since: '',
  until: '',
  ...over,
});

describe('audit RPC handlers', () => {
  it('passes exact filters and the page window on; empty fields are no filter', async () => {
    const { asked, handlers } = recordingStore();
    await handlers.listAuditRecords({
      ...request({ actor: 'key:a', outcome: 'denied', since: '2026-01-01T00:00:00Z' }),
      page: { pageSize: 10, pageToken: '20' },
    });
    expect(asked.filter).toEqual({
      actor: 'key:a',
      action: undefined,
      outcome: 'denied',
      since: new Date('2026-01-01T00:00:00Z'),
      until: undefined,
    });
    expect(asked.page).toEqual({ limit: 10, offset: 20 });
  });

  it.each([
    ['an unknown outcome', { outcome: 'maybe' }],
    ['a date without time', { since: '2026-01-01' }],
    ['a free-form date', { until: 'May 5 2026' }],
    ['an impossible instant', { since: '2026-13-45T99:00:00Z' }],
    ['an actor too long to be one', { actor: 'x'.repeat(501) }],
  ])('refuses %s as invalid', async (_what, over) => {
    const { handlers } = recordingStore();
    await expect(handlers.listAuditRecords(request(over))).rejects.toMatchObject({
      code: 'validation.invalid_argument',
    });
  });

  it('refuses a bad page token', async () => {
    const { handlers } = recordingStore();
    await expect(
      handlers.listAuditRecords({ ...request({}), page: { pageSize: 5, pageToken: 'abc' } }),
    ).rejects.toMatchObject({ code: 'validation.invalid_argument' });
  });

  it('answers a window that ends before it starts as empty, without asking the store', async () => {
    const { asked, handlers } = recordingStore();
    const backwards = { since: '2026-02-01T00:00:00Z', until: '2026-01-01T00:00:00Z' };
    const listed = await handlers.listAuditRecords(request(backwards));
    expect(listed.records).toEqual([]);
    expect(listed.page).toEqual({ nextPageToken: '', totalSize: 0n });
    expect(asked.filter).toBeUndefined();
    await expect(handlers.getUsageTotals(backwards)).resolves.toEqual({ totals: [] });
  });

  it('summarises the last 24 hours unless asked for another window of 1 to 720 hours', async () => {
    const { windows, handlers } = recordingStore();
    const stats = await handlers.getStats({ windowHours: 0 });
    const [day] = windows;
    expect(day!.until.getTime() - day!.since.getTime()).toBe(24 * 3_600_000);
    expect(stats).toMatchObject({
      since: day!.since.toISOString(),
      tasksByStatus: [
        { status: 'OK', count: 3n },
        { status: 'ERROR', count: 1n },
      ],
      tasksInFlight: 2n,
      latencyP95Ms: 90,
      auditDenied: 2n,
    });
    await handlers.getStats({ windowHours: 720 });
    expect(windows[1]!.until.getTime() - windows[1]!.since.getTime()).toBe(720 * 3_600_000);
    for (const windowHours of [721, 100_000])
      await expect(handlers.getStats({ windowHours })).rejects.toMatchObject({
        code: 'validation.invalid_argument',
      });
    expect(windows).toHaveLength(2);
  });
});
