import { eq, sql } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { type Db, TenantRepository } from '@aion/db';
import { AionError } from '@aion/errors';
import type { OutboxWriter } from '@aion/events';
import type { PageWindow, ResolvedSlo, Slo } from '../../core/model';
import type { SloStore } from '../../core/ports';
import { sloProto } from '../../proto';
import { pageByName } from './pages';
import { slos } from './schema';

type Row = typeof slos.$inferSelect;
const toSlo = (r: Row): Slo => ({
  ...r,
  sli: r.sli as Slo['sli'],
  service: r.service as Slo['service'],
});
const nameTaken = (name: string) => AionError.conflict(`an SLO named ${name} already exists`);
const columns = (s: ResolvedSlo) => ({
  name: s.name,
  service: s.service,
  sli: s.sli,
  metric: s.metric,
  matchers: s.matchers,
  latencyThresholdMs: s.latencyThresholdMs,
  objective: s.objective,
  windowDays: s.windowDays,
  description: s.description,
  goodSelector: s.goodSelector,
  totalSelector: s.totalSelector,
});

/** SLO definitions in PostgreSQL (RLS by tenant); every change is an event on the outbox. */
export class PostgresSlos extends TenantRepository implements SloStore {
  constructor(
    db: Db,
    private readonly outbox: OutboxWriter,
  ) {
    super(db);
  }

  page(window: PageWindow) {
    return this.tx((tx) => pageByName(tx, slos, slos.name, window, toSlo));
  }

  get(id: string) {
    return this.tx(async (tx) => {
      const [row] = await tx.select().from(slos).where(eq(slos.id, id));
      return row && toSlo(row);
    });
  }

  create(input: ResolvedSlo) {
    return this.tx(async (tx, tenantId) => {
      const id = randomUUID();
      const [row] = await tx
        .insert(slos)
        .values({ id, tenantId, ...columns(input) })
        .onConflictDoNothing()
        .returning();
      if (!row) throw nameTaken(input.name);
      const slo = toSlo(row);
      await this.outbox.add(tx, { type: 'slo.created', key: id, payload: { slo: sloProto(slo) } });
      return slo;
    });
  }

  update(id: string, input: ResolvedSlo) {
    return this.tx(async (tx) => {
      const [clash] = await tx.select({ id: slos.id }).from(slos).where(eq(slos.name, input.name));
      if (clash && clash.id !== id) throw nameTaken(input.name);
      const [row] = await tx
        .update(slos)
        .set({ ...columns(input), updatedAt: sql`now()` })
        .where(eq(slos.id, id))
        .returning();
      if (!row) return undefined;
      const slo = toSlo(row);
      await this.outbox.add(tx, { type: 'slo.updated', key: id, payload: { slo: sloProto(slo) } });
      return slo;
    });
  }

  remove(id: string) {
    return this.tx(async (tx) => {
      const deleted = await tx.delete(slos).where(eq(slos.id, id)).returning({ id: slos.id });
      if (!deleted.length) return false;
      await this.outbox.add(tx, { type: 'slo.deleted', key: id, payload: { sloId: id } });
      return true;
    });
  }
}
