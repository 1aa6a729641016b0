import { burnRateStatus, type MetricsReader, type Sample } from './burn-rate-status';
import type { Slo } from './model';

const slo = {
  id: 's1',
  objective: 0.99,
  windowDays: 30,
  goodSelector: 'good',
  totalSelector: 'total',
} as Slo;

/** Answers by the query's shape, as Prometheus would for these series. */
const reader = (answers: {
  ratios?: Sample[];
  alerts?: Sample[];
  now?: number;
  dayAgo?: number;
}): MetricsReader & { queries: string[] } => {
  const queries: string[] = [];
  return {
    queries,
    range: async () => [],
    instant: async (query, at) => {
      queries.push(query);
      if (query.startsWith('{__name__')) return answers.ratios ?? [];
      if (query.startsWith('ALERTS')) return answers.alerts ?? [];
      const v = at ? answers.dayAgo : answers.now;
      return v === undefined ? [] : [{ labels: {}, value: v }];
    },
  };
};

describe('burnRateStatus', () => {
  it('turns recorded error ratios into burn rates and the window error ratio into budget left', async () => {
    const r = reader({
      ratios: [
        { labels: { __name__: 'aion_slo:error_ratio:rate1h' }, value: 0.2 },
        { labels: { __name__: 'aion_slo:error_ratio:rate5m' }, value: 0.3 },
        { labels: { __name__: 'aion_slo:error_ratio:rate6h' }, value: Number.NaN },
      ],
      alerts: [{ labels: { long_window: '1h' }, value: 1 }],
      now: 0.005,
      dayAgo: 0.002,
    });
    const status = await burnRateStatus(slo, r);
    expect(status.errorRatios).toEqual({ '1h': 0.2, '5m': 0.3 });
    expect(status.windows[0]).toMatchObject({ long: '1h', threshold: 14.4, firing: true });
    expect(status.windows[0]!.longBurnRate).toBeCloseTo(20);
    expect(status.windows[0]!.shortBurnRate).toBeCloseTo(30);
    expect(Number.isNaN(status.windows[1]!.longBurnRate)).toBe(true);
    expect(status.windows[1]!.firing).toBe(false);
    expect(status.budgetRemaining).toBeCloseTo(0.5);
    expect(status.budgetRemaining1dAgo).toBeCloseTo(0.8);
    expect(r.queries).toContain(
      '1 - (sum(increase(good[30d])) or vector(0)) / sum(increase(total[30d]))',
    );
    expect(r.queries[0]).toBe('{__name__=~"aion_slo:error_ratio:rate.+",aion_slo_id="s1"}');
  });

  it('says NaN, not a full budget, when there is no data', async () => {
    const status = await burnRateStatus(slo, reader({}));
    expect(Number.isNaN(status.budgetRemaining)).toBe(true);
    expect(status.windows.every((w) => !w.firing)).toBe(true);
  });
});
