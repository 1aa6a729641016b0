import { AionError, type ErrorDetail } from '@aion/errors';
import type { PlatformDashboard } from './dashboard-panels';
import type { Page, PageWindow } from './model';
import { promqlProblems } from './promql';

/** A tenant's own dashboard: a Grafana JSON model whose uid and title are Aion's. */
export interface TenantDashboard {
  id: string;
  tenantId: string;
  title: string;
  model: Record<string, unknown>;
}

export interface DashboardInput {
  title: string;
  model: Record<string, unknown>;
}

/** The calling tenant's dashboards (RLS). */
export interface DashboardStore {
  page(window: PageWindow): Promise<Page<TenantDashboard>>;
  get(id: string): Promise<TenantDashboard | undefined>;
  /** Throws state.conflict when the tenant has a dashboard of that title. */
  create(input: DashboardInput): Promise<TenantDashboard>;
  update(id: string, input: DashboardInput): Promise<TenantDashboard | undefined>;
  remove(id: string): Promise<boolean>;
}

const MAX_MODEL_BYTES = 256 * 1024;
const MAX_PANELS = 200;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Grafana's interval variables, as Prometheus would see them once Grafana filled them in. */
const asPrometheusSees = (expr: string) =>
  expr.replace(
    /\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}/g,
    '5m',
  );

/**
 * Every problem of a dashboard, listed: a title, a JSON object of bounded size, panels (and a
 * row's panels) that are objects, queries that are objects, and PromQL that parses. The
 * gateway's schema states the same rules, so what its OpenAPI document allows is accepted.
 */
export function dashboardProblems(input: DashboardInput): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  if (!/\S/.test(input.title) || input.title.length > 200)
    problems.push({ field: 'title', message: '1 to 200 characters, not only spaces' });
  if (!isObject(input.model)) {
    problems.push({ field: 'model', message: 'a JSON object (Grafana dashboard model)' });
    return problems;
  }
  if (Buffer.byteLength(JSON.stringify(input.model)) > MAX_MODEL_BYTES)
    problems.push({ field: 'model', message: `at most ${MAX_MODEL_BYTES} bytes of JSON` });
  const panels: [string, unknown][] = [];
  const listOf = (field: string, value: unknown): unknown[] => {
    if (value === undefined) return [];
    if (Array.isArray(value) && value.length <= MAX_PANELS) return value;
    problems.push({ field, message: `an array of at most ${MAX_PANELS} panels` });
    return [];
  };
  listOf('model.panels', input.model['panels']).forEach((p, i) => {
    panels.push([`model.panels[${i}]`, p]);
    if (isObject(p))
      listOf(`model.panels[${i}].panels`, p['panels']).forEach((q, j) =>
        panels.push([`model.panels[${i}].panels[${j}]`, q]),
      );
  });
  for (const [field, panel] of panels) {
    if (!isObject(panel)) {
      problems.push({ field, message: 'a panel object' });
      continue;
    }
    const targets = panel['targets'];
    if (targets === undefined) continue;
    if (!Array.isArray(targets)) {
      problems.push({ field: `${field}.targets`, message: 'an array of queries' });
      continue;
    }
    targets.forEach((t, k) => {
      const at = `${field}.targets[${k}]`;
      if (!isObject(t)) return void problems.push({ field: at, message: 'a query object' });
      const expr = t['expr'];
      if (expr === undefined) return; // not a Prometheus query (another data source's)
      if (typeof expr !== 'string' || expr.length > 10_000)
        return void problems.push({
          field: `${at}.expr`,
          message: 'PromQL, at most 10000 characters',
        });
      for (const problem of promqlProblems(asPrometheusSees(expr)))
        problems.push({ field: `${at}.expr`, message: problem });
    });
  }
  return problems;
}

/** The dashboards a tenant sees: the platform's (generated, read-only) and its own. */
export class DashboardService {
  constructor(
    private readonly store: DashboardStore,
    private readonly platform: readonly PlatformDashboard[],
  ) {}

  /** The platform's first, then the tenant's by title. */
  async list(window: PageWindow): Promise<Page<TenantDashboard | PlatformDashboard>> {
    const shipped = this.platform.slice(window.offset, window.offset + window.limit);
    const offset = Math.max(0, window.offset - this.platform.length);
    const limit = window.limit - shipped.length;
    // Asked even for an empty remainder: the total needs the tenant's count.
    const own = await this.store.page({ offset, limit: Math.max(limit, 1) });
    return {
      items: [...shipped, ...(limit > 0 ? own.items : [])],
      total: this.platform.length + own.total,
    };
  }

  async get(id: string): Promise<TenantDashboard | PlatformDashboard> {
    const shipped = this.platform.find((d) => d.uid === id);
    if (shipped) return shipped;
    const own = UUID.test(id) ? await this.store.get(id) : undefined;
    if (!own) throw AionError.notFound('dashboard', id);
    return own;
  }

  create(input: DashboardInput) {
    return this.store.create(checked(input));
  }

  async update(id: string, input: DashboardInput) {
    this.refuseShipped(id);
    const updated = UUID.test(id) ? await this.store.update(id, checked(input)) : undefined;
    if (!updated) throw AionError.notFound('dashboard', id);
    return updated;
  }

  async remove(id: string) {
    this.refuseShipped(id);
    if (!(UUID.test(id) && (await this.store.remove(id))))
      throw AionError.notFound('dashboard', id);
  }

  private refuseShipped(id: string) {
    if (this.platform.some((d) => d.uid === id))
      throw AionError.forbidden(`${id} is a platform dashboard, generated from Aion's code`);
  }
}

function checked(input: DashboardInput): DashboardInput {
  const problems = dashboardProblems(input);
  if (problems.length)
    throw AionError.validation(
      `the dashboard is invalid: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`,
      problems,
    );
  return input;
}
