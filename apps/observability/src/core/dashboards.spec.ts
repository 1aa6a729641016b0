import { dashboardQueries, platformDashboards } from './dashboards';
import { promqlProblems } from './promql';

describe('platformDashboards', () => {
  const dashboards = platformDashboards();

  it('are Grafana dashboards with unique uids, each panel with a query', () => {
    expect(new Set(dashboards.map((d) => d.uid)).size).toBe(dashboards.length);
    for (const d of dashboards) {
      expect(d.model).toMatchObject({ uid: d.uid, title: d.title });
      expect(dashboardQueries(d.model).length).toBeGreaterThan(0);
    }
  });

  it('hold only PromQL that parses', () => {
    for (const d of dashboards)
      for (const q of dashboardQueries(d.model))
        // Grafana fills $__rate_interval in; Prometheus sees a duration.
        expect([q, promqlProblems(q.replaceAll('$__rate_interval', '5m'))]).toEqual([q, []]);
  });
});
