import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/** A dashboard as Grafana's JSON model, built with Grafana's typed builders. */
export interface PlatformDashboard {
  uid: string;
  title: string;
  model: Record<string, unknown>;
}

export type Query = [expr: string, legend: string];

/** A time series panel, half the width of the dashboard. */
export const panel = (title: string, unit: string, ...queries: Query[]) => {
  const p = new PanelBuilder().title(title).unit(unit).min(0).span(12).height(8);
  for (const [expr, legend] of queries)
    p.withTarget(new DataqueryBuilder().expr(expr).legendFormat(legend));
  return p;
};

/** One number (the last value of the query), a quarter of the width. */
export const stat = (title: string, unit: string, expr: string, description?: string) => {
  const p = new StatPanelBuilder()
    .title(title)
    .unit(unit)
    .span(6)
    .height(4)
    .withTarget(new DataqueryBuilder().expr(expr).instant());
  return description ? p.description(description) : p;
};

/** A dashboard's common settings: uid, title, tags, refresh and the time range. */
export const dashboard = (uid: string, title: string, description: string, from = 'now-6h') =>
  new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['aion', 'generated'])
    .refresh('30s')
    .time({ from, to: 'now' });

/** The model, with the uid and title the builder was given (`dashboard()`). */
export const built = (builder: DashboardBuilder): PlatformDashboard => {
  const model = builder.build();
  return {
    uid: model.uid ?? '',
    title: model.title ?? '',
    model: model as unknown as Record<string, unknown>,
  };
};

/** `sum by (<by>) (rate(<selector>[$__rate_interval]))`. */
export const rateBy = (by: string, selector: string) =>
  `sum by (${by}) (rate(${selector}[$__rate_interval]))`;

/** p-quantile of a histogram's buckets, by the given labels. */
export const quantileBy = (
  q: number,
  by: string,
  bucketSelector: string,
  range = '$__rate_interval',
) =>
  `histogram_quantile(${q}, sum by (${by ? `${by}, ` : ''}le) (rate(${bucketSelector}[${range}])))`;
