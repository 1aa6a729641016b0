import { dashboardProblems } from './tenant-dashboards';

describe('dashboardProblems', () => {
  const panel = (expr: string) => ({ type: 'timeseries', targets: [{ refId: 'A', expr }] });

  it('accepts a Grafana model whose PromQL parses, Grafana variables and other sources included', () => {
    expect(
      dashboardProblems({
        title: 'Team latency',
        model: {
          panels: [
            panel('histogram_quantile(0.9, sum by (le) (rate(x_bucket[$__rate_interval])))'),
            { type: 'row', panels: [panel('sum(rate(y[${__interval}]))')] },
            { type: 'logs', targets: [{ refId: 'A', query: '{app="x"}' }] },
          ],
        },
      }),
    ).toEqual([]);
  });

  it('lists every problem, nested rows included', () => {
    expect(
      dashboardProblems({
        title: ' ',
        model: {
          panels: [
            panel('sum(rate(x[5m])'),
            { type: 'row', panels: [panel('rate(x)'), 'text'] },
            { targets: { expr: 'up' } },
            { targets: [3, { expr: 7 }] },
            { panels: 'none' },
          ],
        },
      }),
    ).toEqual([
      { field: 'title', message: '1 to 200 characters, not only spaces' },
      { field: 'model.panels[4].panels', message: 'an array of at most 200 panels' },
      { field: 'model.panels[0].targets[0].expr', message: expect.stringMatching(/^syntax error/) },
      {
        field: 'model.panels[1].panels[0].targets[0].expr',
        message: 'rate() needs a range vector, e.g. rate(metric[5m])',
      },
      { field: 'model.panels[1].panels[1]', message: 'a panel object' },
      { field: 'model.panels[2].targets', message: 'an array of queries' },
      { field: 'model.panels[3].targets[0]', message: 'a query object' },
      { field: 'model.panels[3].targets[1].expr', message: 'PromQL, at most 10000 characters' },
    ]);
  });

  it('refuses a model that is not an object, or too large', () => {
    expect(
      dashboardProblems({ title: 'x', model: [] as unknown as Record<string, unknown> }),
    ).toEqual([{ field: 'model', message: 'a JSON object (Grafana dashboard model)' }]);
    expect(dashboardProblems({ title: 'x', model: { description: 'x'.repeat(300_000) } })).toEqual([
      { field: 'model', message: 'at most 262144 bytes of JSON' },
    ]);
  });
});
