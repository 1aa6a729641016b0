import { eq, sql } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { type Db, TenantRepository } from '@aion/db';
import { AionError } from '@aion/errors';
import type { OutboxWriter } from '@aion/events';
import type { PageWindow } from '../../core/model';
import type { DashboardInput, DashboardStore, TenantDashboard } from '../../core/tenant-dashboards';
import { dashboardProto } from '../../proto';
import { pageByName } from './pages';
import { dashboards } from './schema';

type Row = typeof dashboards.$inferSelect;
/** The model as Grafana reads it: its uid is the dashboard's id, its title the dashboard's. */
const toDashboard = (r: Row): TenantDashboard => ({
  id: r.id,
  tenantId: r.tenantId,
  title: r.title,
  model: { ...r.model, uid: r.id, title: r.title },
});
const titleTaken = (title: string) =>
  AionError.conflict(`a dashboard titled ${JSON.stringify(title)} already exists`);

/** A tenant's dashboards in PostgreSQL (RLS by tenant); each change is an event on observability.events. */
export class PostgresDashboards extends TenantRepository implements DashboardStore {
  constructor(
    db: Db,
    private readonly outbox: OutboxWriter,
  ) {
    super(db);
  }

  page(window: PageWindow) {
    return this.tx((tx) => pageByName(tx, dashboards, dashboards.title, window, toDashboard));
  }

  get(id: string) {
    return this.tx(async (tx) => {
      const [row] = await tx.select().from(dashboards).where(eq(dashboards.id, id));
      return row && toDashboard(row);
    });
  }

  create(input: DashboardInput) {
    return this.tx(async (tx, tenantId) => {
      const [row] = await tx
        .insert(dashboards)
        .values({ id: randomUUID(), tenantId, ...input })
        .onConflictDoNothing()
        .returning();
      if (!row) throw titleTaken(input.title);
      const dashboard = toDashboard(row);
      await this.outbox.add(tx, {
        type: 'dashboard.created',
        key: dashboard.id,
        payload: { dashboard: dashboardProto(dashboard) },
      });
      return dashboard;
    });
  }

  update(id: string, input: DashboardInput) {
    return this.tx(async (tx) => {
      const [clash] = await tx
        .select({ id: dashboards.id })
        .from(dashboards)
        .where(eq(dashboards.title, input.title));
      if (clash && clash.id !== id) throw titleTaken(input.title);
      const [row] = await tx
        .update(dashboards)
        .set({ ...input, updatedAt: sql`now()` })
        .where(eq(dashboards.id, id))
        .returning();
      if (!row) return undefined;
      const dashboard = toDashboard(row);
      await this.outbox.add(tx, {
        type: 'dashboard.updated',
        key: id,
        payload: { dashboard: dashboardProto(dashboard) },
      });
      return dashboard;
    });
  }

  remove(id: string) {
    return this.tx(async (tx) => {
      const gone = await tx
        .delete(dashboards)
        .where(eq(dashboards.id, id))
        .returning({ id: dashboards.id });
      if (!gone.length) return false;
      await this.outbox.add(tx, {
        type: 'dashboard.deleted',
        key: id,
        payload: { dashboardId: id },
      });
      return true;
    });
  }
}
