import { ObservabilityService } from '@aion/contracts';
import { AionError } from '@aion/errors';
import { nextPageToken, pageWindow, type GrpcServer, type ServiceImpl } from '@aion/grpc';
import { requireTenant } from '@aion/tenancy';
import type { JsonObject } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { AlertRuleInput, AlertRuleService } from '../core/alert-rules';
import type { AlertService } from '../core/alerts';
import type { DashboardInput, DashboardService } from '../core/tenant-dashboards';
import type { EngineHealthService } from '../core/engine-health';
import type { LlmTracingService } from '../core/llm-tracing-service';
import type { LogsQueryService } from '../core/logs';
import type { MetricsQueryService } from '../core/metrics-query';
import { DEFAULT_WINDOW_DAYS, type SloInput } from '../core/model';
import type { SloEvaluationStore } from '../core/slo-evaluations';
import type { SloService } from '../core/slo-service';
import { LLM_TRACING_ACCESS, llmTracingHandlers } from './llm-tracing-handlers';
import { alertRuleProto, dashboardProto, severityOf, sliOf, sloProto } from '../proto';

export interface ObservabilityApi {
  slos: SloService;
  alerts: AlertService;
  alertRules: AlertRuleService;
  metrics: MetricsQueryService;
  logs: LogsQueryService;
  dashboards: DashboardService;
  engineHealth: EngineHealthService;
  sloEvaluations: Pick<SloEvaluationStore, 'page'>;
  llmTracing: LlmTracingService;
}

const required = (value: string, field: string) => {
  if (!value)
    throw AionError.validation(`${field} is required`, [{ field, message: 'is required' }]);
  return value;
};

type SloMessage = {
  name: string;
  service: string;
  sli: number;
  metric: string;
  matchers: Record<string, string>;
  latencyThresholdMs: number;
  objective: number;
  windowDays: number;
  description: string;
};

/** The wire SLO as the domain's input; the core checks it (and lists every problem). */
const sloInput = (slo: SloMessage | undefined): SloInput => {
  if (!slo)
    throw AionError.validation('slo is required', [{ field: 'slo', message: 'is required' }]);
  return {
    name: slo.name,
    service: slo.service,
    // An unknown kind is passed on as such, so it is listed with the other problems.
    sli: sliOf(slo.sli) ?? ('' as SloInput['sli']),
    metric: slo.metric,
    matchers: slo.matchers,
    latencyThresholdMs: slo.latencyThresholdMs,
    objective: slo.objective,
    windowDays: slo.windowDays || DEFAULT_WINDOW_DAYS,
    description: slo.description,
  };
};

type RuleMessage = {
  name: string;
  expression: string;
  forDuration: string;
  severity: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
};

/** The wire rule as the domain's input; the core checks it (and lists every problem). */
const ruleInput = (rule: RuleMessage | undefined): AlertRuleInput => {
  if (!rule)
    throw AionError.validation('rule is required', [{ field: 'rule', message: 'is required' }]);
  return {
    name: rule.name,
    expression: rule.expression,
    forDuration: rule.forDuration,
    severity: severityOf(rule.severity) ?? ('' as AlertRuleInput['severity']),
    labels: rule.labels,
    annotations: rule.annotations,
  };
};

/** The wire dashboard as the domain's input; the core checks it (and lists every problem). */
const dashboardInput = (d: { title: string; model?: JsonObject } | undefined): DashboardInput => {
  if (!d)
    throw AionError.validation('dashboard is required', [
      { field: 'dashboard', message: 'is required' },
    ]);
  return { title: d.title, model: (d.model ?? {}) as Record<string, unknown> };
};

/** aion.v1.ObservabilityService: parse, check, call, map back. */
export function registerObservabilityApi(server: GrpcServer, api: ObservabilityApi): void {
  const handlers: ServiceImpl<typeof ObservabilityService.method> = {
    createSlo: async (req) => ({ slo: sloProto(await api.slos.create(sloInput(req.slo))) }),
    getSlo: async (req) => ({ slo: sloProto(await api.slos.get(required(req.id, 'id'))) }),
    listSlos: async (req) => {
      const window = pageWindow(req.page);
      const page = await api.slos.list(window);
      return {
        slos: page.items.map(sloProto),
        page: {
          nextPageToken: nextPageToken(window.offset, page.items.length, page.total),
          totalSize: BigInt(page.total),
        },
      };
    },
    updateSlo: async (req) => ({
      slo: sloProto(
        await api.slos.update(required(req.slo?.id ?? '', 'slo.id'), sloInput(req.slo)),
      ),
    }),
    deleteSlo: async (req) => {
      await api.slos.remove(required(req.id, 'id'));
      return {};
    },
    getSloRules: async (req) => ({ yaml: await api.slos.rules(required(req.id, 'id')) }),
    getBurnRate: async (req) => {
      const sloId = required(req.sloId, 'slo_id');
      const s = await api.slos.burnRate(sloId);
      return {
        sloId,
        errorBudgetRemaining: s.budgetRemaining,
        errorBudgetRemaining1dAgo: s.budgetRemaining1dAgo,
        errorRatios: s.errorRatios as Record<string, number>,
        windows: s.windows.map((w) => ({
          longWindow: w.long,
          shortWindow: w.short,
          longBurnRate: w.longBurnRate,
          shortBurnRate: w.shortBurnRate,
          threshold: w.threshold,
          firing: w.firing,
        })),
      };
    },
    listSloEvaluations: async (req) => {
      const sloId = required(req.sloId, 'slo_id');
      await api.slos.get(sloId); // 404 for an SLO the tenant does not have
      const window = pageWindow(req.page);
      const page = await api.sloEvaluations.page(sloId, window);
      const nan = (n: number | undefined) => n ?? NaN;
      return {
        evaluations: page.items.map((e) => ({
          sloId: e.sloId,
          evaluatedAt: timestampFromDate(e.evaluatedAt),
          errorBudgetRemaining: nan(e.budgetRemaining),
          errorRatios: e.errorRatios,
          windows: e.alerts.map((a) => ({
            longWindow: a.long,
            shortWindow: a.short,
            longBurnRate: nan(a.longBurnRate),
            shortBurnRate: nan(a.shortBurnRate),
            threshold: a.threshold,
            firing: a.firing,
          })),
        })),
        page: {
          nextPageToken: nextPageToken(window.offset, page.items.length, page.total),
          totalSize: BigInt(page.total),
        },
      };
    },
    createAlertRule: async (req) => ({
      rule: alertRuleProto(await api.alertRules.create(ruleInput(req.rule))),
    }),
    getAlertRule: async (req) => ({
      rule: alertRuleProto(await api.alertRules.get(required(req.id, 'id'))),
    }),
    listAlertRules: async (req) => {
      const window = pageWindow(req.page);
      const page = await api.alertRules.list(window);
      return {
        rules: page.items.map(alertRuleProto),
        page: {
          nextPageToken: nextPageToken(window.offset, page.items.length, page.total),
          totalSize: BigInt(page.total),
        },
      };
    },
    updateAlertRule: async (req) => ({
      rule: alertRuleProto(
        await api.alertRules.update(required(req.rule?.id ?? '', 'rule.id'), ruleInput(req.rule)),
      ),
    }),
    deleteAlertRule: async (req) => {
      await api.alertRules.remove(required(req.id, 'id'));
      return {};
    },
    listActiveAlerts: async () => ({
      alerts: (await api.alerts.active(requireTenant().tenantId)).map((a) => ({
        fingerprint: a.fingerprint,
        alertname: a.labels['alertname'] ?? '',
        severity: a.labels['severity'] ?? '',
        sloId: a.labels['aion_slo_id'] ?? '',
        labels: a.labels,
        annotations: a.annotations,
        startsAt: timestampFromDate(a.startsAt),
        state: a.state,
      })),
    }),
    createDashboard: async (req) => ({
      dashboard: dashboardProto(await api.dashboards.create(dashboardInput(req.dashboard))),
    }),
    getDashboard: async (req) => ({
      dashboard: dashboardProto(await api.dashboards.get(required(req.id, 'id'))),
    }),
    listDashboards: async (req) => {
      const window = pageWindow(req.page);
      const page = await api.dashboards.list(window);
      return {
        dashboards: page.items.map(dashboardProto),
        page: {
          nextPageToken: nextPageToken(window.offset, page.items.length, page.total),
          totalSize: BigInt(page.total),
        },
      };
    },
    updateDashboard: async (req) => ({
      dashboard: dashboardProto(
        await api.dashboards.update(
          required(req.dashboard?.id ?? '', 'dashboard.id'),
          dashboardInput(req.dashboard),
        ),
      ),
    }),
    deleteDashboard: async (req) => {
      await api.dashboards.remove(required(req.id, 'id'));
      return {};
    },
    queryMetrics: async (req) => {
      const series = await api.metrics.query(requireTenant().tenantId, {
        query: required(req.query, 'query'),
        ...(req.start ? { start: timestampDate(req.start) } : {}),
        ...(req.end ? { end: timestampDate(req.end) } : {}),
        ...(req.stepSeconds ? { stepSeconds: req.stepSeconds } : {}),
      });
      return {
        series: series.map((s) => ({
          labels: s.labels,
          samples: s.samples.map((p) => ({ time: timestampFromDate(p.time), value: p.value })),
        })),
      };
    },
    queryLogs: async (req) => {
      const end = req.end ? timestampDate(req.end) : new Date();
      const lines = await api.logs.query(requireTenant().tenantId, {
        query: req.query,
        start: req.start ? timestampDate(req.start) : new Date(end.getTime() - 3_600_000),
        end,
        limit: req.limit || 100,
      });
      return {
        entries: lines.map((l) => ({
          time: timestampFromDate(l.time),
          level: l.labels['level'] ?? l.labels['detected_level'] ?? '',
          message: l.line,
          labels: l.labels,
        })),
      };
    },
    getEngineHealth: async (req) => ({
      engines: (await api.engineHealth.health(req.engines, req.windowSeconds)).map((h) => ({
        engine: h.engine,
        p95Ms: h.p95Ms,
        errorRate: h.errorRate,
        sampleCount: BigInt(h.sampleCount),
        breakerState: h.breakerState,
      })),
    }),
    ...llmTracingHandlers(api.llmTracing),
  };
  server.add(ObservabilityService, handlers, {
    createSlo: 'observability:manage',
    getSlo: 'platform:read',
    listSlos: 'platform:read',
    updateSlo: 'observability:manage',
    deleteSlo: 'observability:manage',
    getSloRules: 'platform:read',
    getBurnRate: 'platform:read',
    listSloEvaluations: 'platform:read',
    createAlertRule: 'observability:manage',
    listAlertRules: 'platform:read',
    getAlertRule: 'platform:read',
    updateAlertRule: 'observability:manage',
    deleteAlertRule: 'observability:manage',
    listActiveAlerts: 'platform:read',
    createDashboard: 'observability:manage',
    getDashboard: 'platform:read',
    listDashboards: 'platform:read',
    updateDashboard: 'observability:manage',
    deleteDashboard: 'observability:manage',
    queryMetrics: 'platform:read',
    queryLogs: 'platform:read',
    getEngineHealth: 'platform:read',
    ...LLM_TRACING_ACCESS,
  });
}
