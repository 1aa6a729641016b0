import * as z from 'zod/v4';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { collectionRoutes } from '../routing/collection';
import { route, type Route } from '../routing/route';
import { PageInfo, PageQuery, queryInt, Timestamp, Uuid } from '../../wire-schemas';
import {
  AlertRule,
  AlertRuleRequest,
  BASE,
  BurnRateWindow,
  burnRateWindowJson,
  Dashboard,
  dashboardJson,
  dashboardMessage,
  DashboardRequest,
  Finite,
  finite,
  iso,
  LogsQueryRequest,
  MetricsQueryRequest,
  RuleFile,
  ruleJson,
  ruleMessage,
  Slo,
  sloJson,
  sloMessage,
  SloRequest,
  type ObservabilityClient,
} from './observability-json';
import { page, pageRequest } from './sovereign-json';

export type { ObservabilityClient } from './observability-json';

/** /api/v1/observability: SLOs and their generated rules, custom alert rules, active alerts. */
export function observabilityRoutes(obs: ObservabilityClient, requestTimeoutMs: number): Route[] {
  const o = { deadlineMs: requestTimeoutMs };
  const tag = 'observability';
  const read = 'platform:read' as const;
  const IdPath = z.strictObject({ id: Uuid });
  return [
    ...collectionRoutes({
      path: `${BASE}/slos`,
      kind: 'Slo',
      noun: 'SLO',
      tag,
      read,
      manage: 'observability:manage',
      id: IdPath,
      query: PageQuery,
      body: SloRequest,
      item: Slo,
      conflicts: [409],
      async list(query) {
        const r = await obs.listSlos(pageRequest(query), o);
        return { data: r.slos.map(sloJson), ...page(r.page) };
      },
      create: async (body) => sloJson((await obs.createSlo({ slo: sloMessage(body) }, o)).slo),
      get: async (id) => sloJson((await obs.getSlo({ id }, o)).slo),
      replace: async (id, body) =>
        sloJson((await obs.updateSlo({ slo: sloMessage(body, id) }, o)).slo),
      remove: async (id) => void (await obs.deleteSlo({ id }, o)),
    }),
    ...collectionRoutes({
      path: `${BASE}/alert-rules`,
      kind: 'AlertRule',
      noun: 'alert rule',
      tag,
      read,
      manage: 'observability:manage',
      id: IdPath,
      query: PageQuery,
      body: AlertRuleRequest,
      item: AlertRule,
      conflicts: [409],
      async list(query) {
        const r = await obs.listAlertRules(pageRequest(query), o);
        return { data: r.rules.map(ruleJson), ...page(r.page) };
      },
      create: async (body) =>
        ruleJson((await obs.createAlertRule({ rule: ruleMessage(body) }, o)).rule),
      get: async (id) => ruleJson((await obs.getAlertRule({ id }, o)).rule),
      replace: async (id, body) =>
        ruleJson((await obs.updateAlertRule({ rule: ruleMessage(body, id) }, o)).rule),
      remove: async (id) => void (await obs.deleteAlertRule({ id }, o)),
    }),
    route({
      method: 'get',
      path: `${BASE}/slos/{id}/burn-rate`,
      operationId: 'getSloBurnRate',
      summary: "The SLO's burn rate in every window and the error budget left, from Prometheus",
      tag,
      access: read,
      request: { path: IdPath },
      responses: {
        200: {
          description: 'Burn rates (multiples of the sustainable error rate); null without data',
          schema: z.object({
            slo_id: Uuid,
            error_budget_remaining: Finite.describe('Share left; negative when overspent'),
            error_budget_remaining_1d_ago: Finite,
            error_budget_trend_per_day: Finite,
            error_ratios: z.record(z.string(), z.number()),
            windows: z.array(BurnRateWindow),
          }),
        },
      },
      errors: [404],
      async handle({ path }) {
        const r = await obs.getBurnRate({ sloId: path.id }, o);
        return {
          status: 200,
          body: {
            slo_id: r.sloId,
            error_budget_remaining: finite(r.errorBudgetRemaining),
            error_budget_remaining_1d_ago: finite(r.errorBudgetRemaining1dAgo),
            error_budget_trend_per_day: finite(
              r.errorBudgetRemaining - r.errorBudgetRemaining1dAgo,
            ),
            error_ratios: Object.fromEntries(
              Object.entries(r.errorRatios).filter(([, v]) => Number.isFinite(v)),
            ),
            windows: r.windows.map(burnRateWindowJson),
          },
        };
      },
    }),
    route({
      method: 'get',
      path: `${BASE}/slos/{id}/evaluations`,
      operationId: 'listSloEvaluations',
      summary: "The SLO's periodic burn-rate snapshots, newest first",
      tag,
      access: read,
      request: { path: IdPath, query: PageQuery },
      responses: {
        200: {
          description: 'Snapshots; null where Prometheus had no data',
          schema: z.object({
            data: z.array(
              z.object({
                slo_id: Uuid,
                evaluated_at: Timestamp,
                error_budget_remaining: Finite,
                error_ratios: z.record(z.string(), z.number()),
                windows: z.array(BurnRateWindow),
              }),
            ),
            ...PageInfo,
          }),
        },
      },
      errors: [404],
      async handle({ path, query }) {
        const r = await obs.listSloEvaluations({ sloId: path.id, ...pageRequest(query) }, o);
        return {
          status: 200,
          body: {
            data: r.evaluations.map((e) => ({
              slo_id: e.sloId,
              evaluated_at: iso(e.evaluatedAt)!,
              error_budget_remaining: finite(e.errorBudgetRemaining),
              error_ratios: Object.fromEntries(
                Object.entries(e.errorRatios).filter(([, v]) => Number.isFinite(v)),
              ),
              windows: e.windows.map(burnRateWindowJson),
            })),
            ...page(r.page),
          },
        };
      },
    }),
    route({
      method: 'get',
      path: `${BASE}/slos/{id}/rules`,
      operationId: 'getSloRules',
      summary: "The SLO's Prometheus rule file: error-ratio recordings and burn-rate alerts",
      tag,
      access: read,
      request: { path: IdPath },
      responses: {
        200: {
          description: 'A rule file as `promtool check rules` and Prometheus read it',
          schema: RuleFile,
          contentType: 'application/yaml',
        },
      },
      errors: [404],
      async handle({ path, res }) {
        const { yaml } = await obs.getSloRules({ id: path.id }, o);
        res.type('application/yaml').send(yaml);
        return 'sent';
      },
    }),
    route({
      method: 'post',
      path: `${BASE}/metrics/query`,
      operationId: 'queryMetrics',
      summary:
        "PromQL over the caller's own series (a tenant_id matcher is added to every selector)",
      tag,
      access: read,
      request: { body: MetricsQueryRequest },
      responses: {
        200: {
          description: 'Series and their samples',
          schema: z.object({
            series: z.array(
              z.object({
                labels: z.record(z.string(), z.string()),
                samples: z.array(z.object({ time: Timestamp.nullable(), value: Finite })),
              }),
            ),
          }),
        },
      },
      async handle({ body }) {
        const ts = (iso: string) => timestampFromDate(new Date(iso));
        const end = body.range?.end ? new Date(body.range.end) : new Date();
        const r = await obs.queryMetrics(
          body.range
            ? {
                query: body.query,
                start: timestampFromDate(
                  new Date(end.getTime() - body.range.duration_seconds * 1000),
                ),
                end: timestampFromDate(end),
                stepSeconds: body.range.step_seconds,
              }
            : { query: body.query, ...(body.time ? { end: ts(body.time) } : {}) },
          o,
        );
        return {
          status: 200,
          body: {
            series: r.series.map((s) => ({
              labels: s.labels,
              samples: s.samples.map((p) => ({ time: iso(p.time), value: finite(p.value) })),
            })),
          },
        };
      },
    }),
    route({
      method: 'post',
      path: `${BASE}/logs/query`,
      operationId: 'queryLogs',
      summary: "LogQL over the caller's own log lines (Loki is asked as the caller's tenant)",
      tag,
      access: read,
      request: { body: LogsQueryRequest },
      responses: {
        200: {
          description: 'Lines, newest first',
          schema: z.object({
            entries: z.array(
              z.object({
                time: Timestamp.nullable(),
                level: z.string(),
                message: z.string(),
                labels: z.record(z.string(), z.string()),
              }),
            ),
          }),
        },
      },
      async handle({ body }) {
        const end = body.end ? new Date(body.end) : new Date();
        const r = await obs.queryLogs(
          {
            query: body.query,
            start: timestampFromDate(new Date(end.getTime() - body.since_seconds * 1000)),
            end: timestampFromDate(end),
            limit: body.limit,
          },
          o,
        );
        return {
          status: 200,
          body: {
            entries: r.entries.map((e) => ({
              time: iso(e.time),
              level: e.level,
              message: e.message,
              labels: e.labels,
            })),
          },
        };
      },
    }),
    // The platform's seven (generated, read-only: 403 on a change) and the tenant's own.
    ...collectionRoutes({
      path: `${BASE}/dashboards`,
      kind: 'Dashboard',
      noun: 'dashboard',
      tag,
      read,
      manage: 'observability:manage',
      id: z.strictObject({ id: z.string().regex(/^[a-z0-9-]{1,60}$/) }),
      query: PageQuery,
      body: DashboardRequest,
      item: Dashboard,
      conflicts: [409],
      async list(query) {
        const r = await obs.listDashboards(pageRequest(query), o);
        return { data: r.dashboards.map(dashboardJson), ...page(r.page) };
      },
      create: async (body) =>
        dashboardJson(
          (await obs.createDashboard({ dashboard: dashboardMessage(body) }, o)).dashboard,
        ),
      get: async (id) => dashboardJson((await obs.getDashboard({ id }, o)).dashboard),
      replace: async (id, body) =>
        dashboardJson(
          (await obs.updateDashboard({ dashboard: dashboardMessage(body, id) }, o)).dashboard,
        ),
      remove: async (id) => void (await obs.deleteDashboard({ id }, o)),
    }),
    route({
      method: 'get',
      path: `${BASE}/engines/health`,
      operationId: 'getEngineHealth',
      summary:
        "Each engine's p95, error rate, calls and breaker state over a window, as every orchestrator replica reported them to Prometheus",
      tag,
      access: read,
      request: {
        query: z.strictObject({
          window_seconds: queryInt(60, 86_400).default(300).describe('The window, in seconds'),
        }),
      },
      responses: {
        200: {
          description: "Engines seen in the window (the platform's, not the tenant's)",
          schema: z.object({
            data: z.array(
              z.object({
                engine: z.string(),
                p95_ms: z.number().describe('0 when no call answered in the window'),
                error_rate: z.number(),
                calls: z.int().min(0),
                breaker_state: z.enum(['closed', 'half_open', 'open', '']),
              }),
            ),
          }),
        },
      },
      async handle({ query }) {
        const r = await obs.getEngineHealth({ windowSeconds: query.window_seconds }, o);
        return {
          status: 200,
          body: {
            data: r.engines.map((e) => ({
              engine: e.engine,
              p95_ms: e.p95Ms,
              error_rate: e.errorRate,
              calls: Number(e.sampleCount),
              breaker_state: e.breakerState as 'closed' | 'half_open' | 'open' | '',
            })),
          },
        };
      },
    }),
    route({
      method: 'get',
      path: `${BASE}/alerts/active`,
      operationId: 'listActiveAlerts',
      summary:
        "The tenant's alerts Alertmanager holds as active (burn-rate pages and tickets, custom rules)",
      tag,
      access: read,
      request: {},
      responses: {
        200: {
          description: 'Active alerts, as Alertmanager reports them',
          schema: z.object({
            data: z.array(
              z.object({
                fingerprint: z.string(),
                alertname: z.string(),
                severity: z.string(),
                slo_id: z.string().nullable(),
                state: z.enum(['active', 'suppressed']),
                labels: z.record(z.string(), z.string()),
                annotations: z.record(z.string(), z.string()),
                starts_at: Timestamp.nullable(),
              }),
            ),
          }),
        },
      },
      async handle() {
        const r = await obs.listActiveAlerts({}, o);
        return {
          status: 200,
          body: {
            data: r.alerts.map((a) => ({
              fingerprint: a.fingerprint,
              alertname: a.alertname,
              severity: a.severity,
              slo_id: a.sloId || null,
              state: a.state === 'suppressed' ? ('suppressed' as const) : ('active' as const),
              labels: a.labels,
              annotations: a.annotations,
              starts_at: iso(a.startsAt),
            })),
          },
        };
      },
    }),
  ];
}
